/* passwd: yescrypt hashing and verification via libxcrypt (crypt_rn).
 * The crypt work area is heap-allocated (it is ~32 KiB) and wiped after
 * use, since it holds material derived from the password. */
#include "passwd.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define PASSWD_PREFIX	"$y$"	/* yescrypt */
#define PASSWD_COST	0	/* 0: libxcrypt's recommended default */

static void
crypt_data_free(struct crypt_data *cd)
{
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
}

int
passwd_hash(const char *password, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	size_t len;
	int ret = -1;

	/* NULL rbytes: libxcrypt takes the salt from the OS's randomness. */
	if (crypt_gensalt_rn(PASSWD_PREFIX, PASSWD_COST, NULL, 0, salt,
	    sizeof(salt)) == NULL || salt[0] == '*')
		return -1;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(password, salt, cd, sizeof(*cd));
	/* Failure is NULL or a string starting with '*'. */
	if (h != NULL && h[0] == '$' &&
	    strncmp(h, PASSWD_PREFIX, strlen(PASSWD_PREFIX)) == 0) {
		len = strlen(h);
		if (len < outlen) {
			memcpy(out, h, len + 1);
			ret = 0;
		}
	}
	crypt_data_free(cd);
	return ret;
}

/* Compare two equal-length strings without an early exit. */
static bool
ct_equal(const char *a, const char *b, size_t len)
{
	unsigned char diff = 0;
	size_t i;

	for (i = 0; i < len; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

bool
passwd_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	size_t len;
	bool ok = false;

	/* "!..." / "*..." are locked accounts in crypt(3) convention. */
	if (password == NULL || hash == NULL || hash[0] != '$')
		return false;
	cd = xcalloc(1, sizeof(*cd));
	h = crypt_rn(password, hash, cd, sizeof(*cd));
	if (h != NULL && h[0] != '*') {
		len = strlen(hash);
		ok = strlen(h) == len && ct_equal(h, hash, len);
	}
	crypt_data_free(cd);
	return ok;
}
