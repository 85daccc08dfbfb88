/* hash: the fixed, unkeyed 64-bit hashes shared by the filters and the
 * screening tables. Their values are stored on disk (token hashes in the
 * spam database, fingerprints in the shared maps), so they must never
 * change. Inline: they run in per-word and per-shingle loops. */
#ifndef MOAT_HASH_H
#define MOAT_HASH_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64's finaliser: a cheap full-avalanche mix of 64 bits. */
static inline uint64_t
hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* FNV-1a, 64 bits, over len octets of p. */
static inline uint64_t
hash_fnv1a64(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

#endif
