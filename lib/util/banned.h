/*
 * Functions cspf does not use: each has a safer replacement.  Included
 * last by lib/util/common.h, so a use is a compile error.  (After git's
 * banned.h.)
 */
#ifndef CSPF_UTIL_BANNED_H
#define CSPF_UTIL_BANNED_H

#define CSPF_BANNED(func) sorry_##func##_is_banned_in_cspf

#undef strcpy
#define strcpy(x, y) CSPF_BANNED(strcpy)
#undef strcat
#define strcat(x, y) CSPF_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) CSPF_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) CSPF_BANNED(strncat)
#undef sprintf
#define sprintf(...) CSPF_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CSPF_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) CSPF_BANNED(strtok)
#undef gmtime
#define gmtime(t) CSPF_BANNED(gmtime)
#undef localtime
#define localtime(t) CSPF_BANNED(localtime)
#undef ctime
#define ctime(t) CSPF_BANNED(ctime)
#undef asctime
#define asctime(t) CSPF_BANNED(asctime)
#undef atoi
#define atoi(x) CSPF_BANNED(atoi)
#undef atol
#define atol(x) CSPF_BANNED(atol)

#endif
