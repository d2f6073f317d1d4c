/*
 * Open-addressing hash maps: string keys (copied) or pointer keys, to
 * void * values.  Not thread-safe for writers; concurrent readers of a map
 * nobody writes to are fine.
 */
#ifndef CSPF_UTIL_MAP_H
#define CSPF_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cspf_map_entry {
	const void *key; /* char * (owned copy) or the pointer itself */
	size_t klen;     /* string maps: key length; 0 for pointer maps */
	uint64_t hash;
	void *value;
} cspf_map_entry;

typedef struct cspf_map {
	cspf_map_entry *slots;
	size_t nslots; /* power of two, or 0 */
	size_t count;
	int strings;   /* 1: string keys, 0: pointer keys */
} cspf_map;

#define CSPF_MAP_STRINGS_INIT { NULL, 0, 0, 1 }
#define CSPF_MAP_POINTERS_INIT { NULL, 0, 0, 0 }

uint64_t cspf_hash_bytes(const void *data, size_t len);

/* Insert or replace.  Returns 0, or -1 when out of memory. */
int cspf_map_put(cspf_map *m, const void *key, size_t klen, void *value);
int cspf_map_puts(cspf_map *m, const char *key, void *value);
/* The value, or NULL. */
void *cspf_map_get(const cspf_map *m, const void *key, size_t klen);
void *cspf_map_gets(const cspf_map *m, const char *key);
/* Release the table (and the key copies); values are the caller's. */
void cspf_map_dispose(cspf_map *m);

#define cspf_map_foreach(m, e) \
	for ((e) = (m)->slots; (e) && (e) < (m)->slots + (m)->nslots; (e)++) \
		if ((e)->key)

#endif
