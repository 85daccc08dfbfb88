/* arc: the Authenticated Received Chain (RFC 8617): verifying the ARC
 * sets of a message (5.2: structure, cv= values, the newest
 * ARC-Message-Signature, the oldest passing one, every ARC-Seal) and
 * sealing a message with a new set (5.1: ARC-Authentication-Results
 * from our results, ARC-Message-Signature over the message, ARC-Seal
 * over the ARC header fields), with the keys and canonicalization of the
 * DKIM module (a struct dkim_signer from the DKIM key storage).
 *
 * Verification, like dkim_verify: feed the message, end, then either
 * give the key records (arc_verify_key_name / arc_verify_set_key, the
 * pure core) or let arc_verify_lookup fetch them over dns; then
 * arc_verify_result.
 *
 * Sealing (a list manager or forwarder, after all its changes and after
 * verifying the chain of the message as it arrived):
 *
 *	arc_verify_result(v, &chain);
 *	arc_seal(signer, msg, len, &chain, ar_value, time(NULL), &out, &err)
 *	... prepend out to the message.
 *
 * SECURITY: ARC header fields and key records are untrusted; the number
 * of sets is bounded (ARC_SETS_MAX) and the parsing and hashing reuse
 * the bounded DKIM code. Reasons are fixed texts. */
#ifndef MOAT_ARC_H
#define MOAT_ARC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dkim.h"

struct buf;
struct dns;

#define ARC_SETS_MAX		50	/* RFC 8617 4.2.1, 5.2 step 1 */
#define ARC_KEYS_MAX		(2 * ARC_SETS_MAX)	/* AMS + AS keys */
#define ARC_REASON_MAX		96
#define ARC_AR_MAX		160	/* one arc_ar_format() result */

enum arc_status {
	ARC_NONE = 0,		/* no ARC sets */
	ARC_PASS,
	ARC_FAIL,
};

struct arc_result {
	enum arc_status	 status;
	unsigned	 instance;	/* N, the highest instance; 0: none */
	/* 5.2 step 5: the lowest instance whose AMS (and all newer ones)
	 * verified; 0 when all did (or no pass) */
	unsigned	 oldest_pass;
	bool		 newest_cv_fail;	/* the newest AS says cv=fail */
	char		 domain[DKIM_DOMAIN_MAX + 1];	/* d= of AS N */
	char		 reason[ARC_REASON_MAX];	/* "" on pass */
};

struct arc_verify;

struct arc_verify *arc_verify_new(void);
/* Cancels a lookup in flight (no callback). NULL-safe; *vp = NULL. */
void arc_verify_free(struct arc_verify **vp);
void arc_verify_feed(struct arc_verify *v, const void *p, size_t n);
/* End of message: parses the ARC sets and checks their structure.
 * Returns the number of key records needed (0: the result is known). */
size_t arc_verify_end(struct arc_verify *v);
/* Key i (< the count from arc_verify_end): its TXT name
 * "sel._domainkey.example.org". */
const char *arc_verify_key_name(const struct arc_verify *v, size_t i);
/* Key i's record text; rec NULL: no key (lookup failed). */
void arc_verify_set_key(struct arc_verify *v, size_t i, const char *rec,
    size_t len);
/* The result; keys not given count as missing (fail, 5.2.1). */
void arc_verify_result(struct arc_verify *v, struct arc_result *r);

/* Async: fetch the keys over dns. Returns 0 when none are needed (cb not
 * called) or 1: cb runs once, from the loop, when all are in. */
typedef void arc_verify_cb(struct arc_verify *v, void *ctx);
int arc_verify_lookup(struct arc_verify *v, struct dns *dns,
    arc_verify_cb *cb, void *ctx);

const char *arc_status_name(enum arc_status st);
/* 'arc=pass (i=2) header.oldest-pass=1' (RFC 8617 10). 0 or -1. */
int arc_ar_format(const struct arc_result *r, char *out, size_t outlen);

/* Seal msg (the message as it will be sent on, header and body) with a
 * new ARC set i = chain->instance + 1, with cv= from chain (the result
 * of verifying the message as received; none for a message without
 * ARC). ar_value is our Authentication-Results value (after the colon,
 * starting with the authserv-id), which becomes the AAR payload. The
 * three fields (ARC-Seal, ARC-Message-Signature, ARC-Authentication-
 * Results, folded, CRLF-terminated) are appended to out, to be put before
 * the message. Returns 0; 1 when the newest set already says cv=fail
 * (5.1 step 2: nothing is added); -1 with *error_r. */
int arc_seal(const struct dkim_signer *signer, const void *msg, size_t len,
    const struct arc_result *chain, const char *ar_value, time_t now,
    struct buf *out, const char **error_r);

#endif
