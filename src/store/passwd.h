/* passwd: password hashing for accounts: yescrypt through libxcrypt's
 * crypt(3) interface, so the stored strings interoperate with shadow(5)
 * and Dovecot. Verification accepts any scheme libxcrypt knows. */
#ifndef MOAT_PASSWD_H
#define MOAT_PASSWD_H

#include <stdbool.h>
#include <stddef.h>

/* Enough for any crypt(3) string libxcrypt produces (CRYPT_OUTPUT_SIZE). */
#define PASSWD_HASH_MAX 384

/* Hash password with a fresh random salt ("$y$..."). Returns 0, or -1
 * (no randomness, crypt failure, or out too small). */
int passwd_hash(const char *password, char *out, size_t outlen);
/* True when password matches hash (a crypt(3) string). The comparison
 * of the crypt output is constant-time. */
bool passwd_verify(const char *password, const char *hash);

#endif
