/* authn_sign: the signing side of domain authentication, shared by the
 * queue runner (DKIM for mail from our domains, the ARC seal of mail an
 * alias forwards) and mailing lists (list_auth.c): our keys from the
 * store, our own Authentication-Results, and ARC sealing with the cv= a
 * sealer must state (RFC 8617 5.1). Blocking (SQLite): pool threads. */
#ifndef MOAT_AUTHN_SIGN_H
#define MOAT_AUTHN_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "arc.h"
#include "buf.h"
#include "dkim.h"
#include "store.h"

#define AUTHN_SIGN_KEYS_MAX	8	/* signatures per message */
#define AUTHN_SIGN_HEADER_SCAN	(256 * 1024)	/* where headers are read */

struct authn_keys {
	struct dkim_signer	*s[AUTHN_SIGN_KEYS_MAX];
	size_t			 n;
};

/* The enabled keys of domain into k (k->n may be 0). who names the
 * message or list in the log line of an unusable key. 0 or -1. */
int authn_keys_load(struct store *st, const char *domain,
    struct authn_keys *k, const char *who);
void authn_keys_free(struct authn_keys *k);
/* The first RSA key (ARC seals are RSA, RFC 8617 4.1.3), or NULL. */
const struct dkim_signer *authn_keys_rsa(const struct authn_keys *k);

/* Our Authentication-Results value (after the colon, unfolded, starting
 * with host), from the header block of msg, into out; "" when there is
 * none. */
void authn_our_ar(const uint8_t *msg, size_t len, const char *host,
    char *out, size_t outlen);

/* A new ARC set over msg, sealed by rsa, appended to out (to go before
 * the message). cv= is the verdict of our check at reception (arc= in
 * ar) for the sets the message came with; sets added here since (a
 * list's seal, then an alias forwarding the list copy) are verified
 * with our own keys from st. instance_r and cv_r describe the new set.
 * Returns arc_seal()'s 0, 1 (the chain already failed: nothing added)
 * or -1 with *error_r. */
int authn_arc_seal(struct store *st, const struct dkim_signer *rsa,
    const uint8_t *msg, size_t len, const char *ar, struct buf *out,
    unsigned *instance_r, enum arc_status *cv_r, const char **error_r);

#endif
