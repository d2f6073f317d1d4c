/* Expanding command-line operands into the list of files to read. */
#ifndef CSPF_CMD_FILES_H
#define CSPF_CMD_FILES_H

#include <stddef.h>

typedef struct file_list {
	char **paths;
	size_t count, alloc;
	size_t errors; /* operands that could not be read (reported) */
} file_list;

/*
 * Add `operand`: a file is added as it is (whatever its name: the user
 * named it); a directory is walked recursively, in name order, for
 * "*.json" files, not following symbolic links to directories; "-" is
 * standard input.  Problems are printed to stderr and counted.
 * Returns 0, or -1 when out of memory.
 */
int file_list_add(file_list *l, const char *operand);
void file_list_free(file_list *l);

#endif
