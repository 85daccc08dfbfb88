/* dkim: DomainKeys Identified Mail (RFC 6376, with RFC 8301 and RFC 8463).
 *
 * Verification: every DKIM-Signature of a message (up to DKIM_SIGS_MAX),
 * rsa-sha256 and ed25519-sha256, simple and relaxed canonicalization,
 * one result per signature in RFC 8601 terms. The message is fed in
 * chunks of any size (header and body are split here; bodies are hashed
 * as they stream); the keys come either from dkim_verify_lookup() (async
 * TXT queries on the dns module's loop) or, for tests and tools, from
 * dkim_verify_set_key() with the key record text.
 *
 * Signing: a struct dkim_signer holds one parsed private key (load it
 * once, sign many messages); dkim_sign_* produces one DKIM-Signature
 * header field per signer, to be prepended to the message.
 *
 * Input is the message as after SMTP DATA (dot-unstuffed, CRLF lines).
 *
 * SECURITY: messages and key records are untrusted; every list and
 * buffer is bounded by a named constant below. Reasons in results are
 * fixed texts and numbers, never message or DNS content, so they can go
 * into logs and Authentication-Results as they are. Private keys are
 * never logged; PEM copies are wiped. */
#ifndef MOAT_DKIM_H
#define MOAT_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct dns;

#define DKIM_SIGS_MAX		10	/* signatures checked per message */
#define DKIM_H_ITEMS_MAX	1000	/* h= entries (amplification cap) */
#define DKIM_FIELDS_MAX		1000	/* header fields looked at */
#define DKIM_HEADER_MAX		(256 * 1024)	/* header block octets */
#define DKIM_CLOCK_SKEW		300	/* seconds allowed on t= and x= */
#define DKIM_RSA_BITS_MIN	1024	/* RFC 8301 3.2 */
#define DKIM_DOMAIN_MAX		253	/* presentation form */
#define DKIM_SELECTOR_MAX	253
#define DKIM_AUID_MAX		320	/* i=: local-part @ domain */
#define DKIM_REASON_MAX		96
#define DKIM_B_PREFIX		8	/* header.b octets (RFC 6008) */
#define DKIM_AR_MAX		1024	/* one dkim_ar_format() result */

enum dkim_status {
	DKIM_NONE = 0,		/* not evaluated yet */
	DKIM_PASS,
	DKIM_FAIL,		/* crypto or body hash mismatch, bad key size,
				 * rsa-sha1, expired */
	DKIM_NEUTRAL,		/* not evaluated (over DKIM_SIGS_MAX) */
	DKIM_POLICY,		/* valid, but l= leaves content unsigned and
				 * the options say that is not acceptable */
	DKIM_TEMPERROR,		/* DNS temporary failure */
	DKIM_PERMERROR,		/* bad signature syntax, no or bad key */
};

enum dkim_canon {
	DKIM_CANON_SIMPLE = 0,
	DKIM_CANON_RELAXED,
};

enum dkim_keytype {
	DKIM_KEY_RSA = 0,
	DKIM_KEY_ED25519,
};

struct dkim_result {
	enum dkim_status status;
	/* "" or a fixed text: "body hash mismatch", "signature did not
	 * verify", "rsa-sha1 is not accepted (RFC 8301)", "body length
	 * limit leaves 123 octets unsigned", "testing key (t=y)", ... */
	char		 reason[DKIM_REASON_MAX];
	char		 domain[DKIM_DOMAIN_MAX + 1];	/* d=, lower case */
	char		 selector[DKIM_SELECTOR_MAX + 1];	/* s= */
	/* i= when it has only safe characters, else "" */
	char		 auid[DKIM_AUID_MAX + 1];
	char		 algorithm[16];		/* a= as given, if known */
	char		 b[DKIM_B_PREFIX + 1];	/* first octets of b= */
	unsigned	 key_bits;		/* 0 when no key was used */
	bool		 testing;		/* key record t=y */
	bool		 body_hash_ok;
	uint64_t	 unsigned_octets;	/* canonical body past l= */
};

/*
 * Verification
 */

struct dkim_verify_opts {
	time_t		 now;		/* 0: time(NULL) when created */
	unsigned	 clock_skew;	/* 0: DKIM_CLOCK_SKEW */
	/* A signature with l= that leaves part of the body unsigned is
	 * DKIM_POLICY instead of a (noted) DKIM_PASS. */
	bool		 reject_partial_body;
};

struct dkim_verify;

/* opts may be NULL. Never NULL. */
struct dkim_verify *dkim_verify_new(const struct dkim_verify_opts *opts);
/* Cancels outstanding lookups (no callback). NULL-safe; *vp = NULL. */
void dkim_verify_free(struct dkim_verify **vp);
/* The message, in chunks of any size. */
void dkim_verify_feed(struct dkim_verify *v, const void *p, size_t n);
/* End of message: finishes the body hashes. Returns the number of
 * DKIM-Signature fields found (results, at most DKIM_SIGS_MAX + the
 * ones past it as NEUTRAL, capped at DKIM_FIELDS_MAX). */
size_t dkim_verify_end(struct dkim_verify *v);
size_t dkim_verify_count(const struct dkim_verify *v);
/* Result i (< dkim_verify_count()); status DKIM_NONE until its key is
 * known. */
const struct dkim_result *dkim_verify_result(const struct dkim_verify *v,
    size_t i);

/* Pure core. When signature i still needs its key, writes the TXT name
 * ("sel._domainkey.example.org") into name and returns 0; otherwise
 * (result already known) returns -1. */
int dkim_verify_key_name(const struct dkim_verify *v, size_t i, char *name,
    size_t namelen);
/* Finish signature i with the text of its key record (the TXT strings
 * concatenated). */
void dkim_verify_set_key(struct dkim_verify *v, size_t i, const char *rec,
    size_t len);
/* Finish signature i without a key: DKIM_TEMPERROR or DKIM_PERMERROR. */
void dkim_verify_set_key_error(struct dkim_verify *v, size_t i,
    enum dkim_status status, const char *reason);

/* Async: look up every needed key over dns and finish the results.
 * Returns 0 when nothing needs a lookup (every result is final; cb is
 * not called), or 1 when queries are in flight: cb runs once, from the
 * loop, when all are done. Call after dkim_verify_end(). */
typedef void dkim_verify_cb(struct dkim_verify *v, void *ctx);
int dkim_verify_lookup(struct dkim_verify *v, struct dns *dns,
    dkim_verify_cb *cb, void *ctx);

const char *dkim_status_name(enum dkim_status st);
/* One Authentication-Results resinfo for r (RFC 8601, RFC 6008):
 * 'dkim=pass (2048-bit key) header.d=example.org header.i=@example.org
 * header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh'. Returns 0, or -1
 * when out is too small (DKIM_AR_MAX always suffices). */
int dkim_ar_format(const struct dkim_result *r, char *out, size_t outlen);

/*
 * Signing
 */

struct dkim_signer;

/* Parse a private key (PEM: PKCS#8 or traditional RSA; RSA of at least
 * DKIM_RSA_BITS_MIN bits, or Ed25519) for domain and selector. Default
 * canonicalization relaxed/relaxed. Returns NULL with *error_r. */
struct dkim_signer *dkim_signer_new(const char *domain, const char *selector,
    const char *key_pem, size_t pem_len, const char **error_r);
void dkim_signer_free(struct dkim_signer **sp);
void dkim_signer_set_canon(struct dkim_signer *s, enum dkim_canon header,
    enum dkim_canon body);
/* Add l= (the canonical body length). Off by default: l= lets anyone
 * append content; for tests and special cases only. */
void dkim_signer_set_length_tag(struct dkim_signer *s, bool on);
/* "rsa-sha256" or "ed25519-sha256". */
const char *dkim_signer_algorithm(const struct dkim_signer *s);

struct dkim_sign;

/* Sign with every signer (one DKIM-Signature each); now is t=. The
 * signers must outlive the struct dkim_sign. */
struct dkim_sign *dkim_sign_new(struct dkim_signer *const *signers,
    size_t nsigners, time_t now);
void dkim_sign_feed(struct dkim_sign *g, const void *p, size_t n);
/* Append the DKIM-Signature fields (folded at 78 columns, each ending in
 * CRLF, to be put before the message) to out. Returns 0, or -1 with
 * *error_r (header block too big, crypto failure, out full). */
int dkim_sign_end(struct dkim_sign *g, struct buf *out, const char **error_r);
void dkim_sign_free(struct dkim_sign **gp);
/* All of the above for a message in memory. */
int dkim_sign_message(struct dkim_signer *const *signers, size_t nsigners,
    const void *msg, size_t len, time_t now, struct buf *out,
    const char **error_r);

/*
 * Keys
 */

#define DKIM_KEYGEN_RSA_BITS	2048

/* Make a private key; *pem_r (PKCS#8 PEM, NUL-terminated, xmalloc'd: wipe
 * with explicit_bzero before free). Returns 0 or -1 with *error_r. */
int dkim_keygen(enum dkim_keytype type, char **pem_r, const char **error_r);
/* The key record for a private key: "v=DKIM1; k=rsa; p=..." appended to
 * out (NUL-terminated via buf_cstr). Returns 0 or -1 with *error_r. */
int dkim_key_record(const char *key_pem, size_t pem_len, struct buf *out,
    const char **error_r);

#endif
