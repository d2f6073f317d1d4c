#include "map.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bit: short keys, good enough spread for our tables. */
uint64_t cspf_hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t hash_key(const cspf_map *m, const void *key, size_t klen)
{
	uint64_t h;

	if (m->strings)
		return cspf_hash_bytes(key, klen);
	h = (uint64_t)(uintptr_t)key;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static cspf_map_entry *find(const cspf_map *m, const void *key, size_t klen,
	uint64_t h)
{
	size_t mask = m->nslots - 1, i = (size_t)h & mask;

	for (;;) {
		cspf_map_entry *e = &m->slots[i];
		if (!e->key)
			return e;
		if (e->hash == h) {
			if (!m->strings && e->key == key)
				return e;
			if (m->strings && e->klen == klen &&
			    memcmp(e->key, key, klen) == 0)
				return e;
		}
		i = (i + 1) & mask;
	}
}

static int grow(cspf_map *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 16, i;
	cspf_map_entry *old = m->slots, *slots;
	size_t oldn = m->nslots;

	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	m->slots = slots;
	m->nslots = n;
	for (i = 0; i < oldn; i++) {
		if (old[i].key)
			*find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

int cspf_map_put(cspf_map *m, const void *key, size_t klen, void *value)
{
	uint64_t h = hash_key(m, key, klen);
	cspf_map_entry *e;

	if ((m->count + 1) * 4 > m->nslots * 3 && grow(m) < 0)
		return -1;
	e = find(m, key, klen, h);
	if (!e->key) {
		if (m->strings) {
			char *k = malloc(klen + 1);
			if (!k)
				return -1;
			memcpy(k, key, klen);
			k[klen] = '\0';
			e->key = k;
		} else {
			e->key = key;
		}
		e->klen = klen;
		e->hash = h;
		m->count++;
	}
	e->value = value;
	return 0;
}

int cspf_map_puts(cspf_map *m, const char *key, void *value)
{
	return cspf_map_put(m, key, strlen(key), value);
}

void *cspf_map_get(const cspf_map *m, const void *key, size_t klen)
{
	if (!m->count)
		return NULL;
	return find(m, key, klen, hash_key(m, key, klen))->value;
}

void *cspf_map_gets(const cspf_map *m, const char *key)
{
	return cspf_map_get(m, key, strlen(key));
}

void cspf_map_dispose(cspf_map *m)
{
	size_t i;

	if (m->strings) {
		for (i = 0; i < m->nslots; i++)
			free((void *)m->slots[i].key);
	}
	free(m->slots);
	m->slots = NULL;
	m->nslots = m->count = 0;
}
