/* dkim_private: what the dkim_*.c files share: the tag=value parser and
 * the parsed DKIM-Signature and key record (dkim_parse.c), the message
 * splitter and the canonicalizers (dkim_canon.c). Exposed to the unit
 * tests and the fuzzer; not to the rest of moat. */
#ifndef MOAT_DKIM_PRIVATE_H
#define MOAT_DKIM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"

#define DKIM_TAGS_MAX		64	/* tags in one tag-list */
#define DKIM_SIG_B_MAX		1024	/* decoded b= octets (8192-bit RSA) */
#define DKIM_BH_MAX		64	/* decoded bh= octets */
#define DKIM_KEY_P_MAX		2048	/* decoded p= octets */
#define DKIM_TIME_DIGITS	12	/* t=, x= (RFC 6376 3.5) */
#define DKIM_CANON_OUT		4096	/* body canonicalizer staging */
#define DKIM_SIG_FIELD_MAX	(64 * 1024)	/* one DKIM-Signature field */

/* A slice of the input. */
struct dkim_slice {
	const char	*p;
	size_t		 len;
};

struct dkim_tag {
	struct dkim_slice name;
	struct dkim_slice value;	/* without surrounding FWS */
	size_t		 value_start;	/* offsets in the input: just after */
	size_t		 value_end;	/* '=', and the ';' or end */
};

/* tag-list (RFC 6376 3.2). Returns the number of tags (>= 0), or -1 with
 * *error_r: bad syntax, a duplicate tag, more than max tags. */
int dkim_tags_parse(const char *s, size_t len, struct dkim_tag *tags,
    size_t max, const char **error_r);

enum dkim_alg {
	DKIM_ALG_RSA_SHA256 = 0,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1,
};

/* A parsed DKIM-Signature value. Slices point into the parsed text. */
struct dkim_sig {
	enum dkim_alg	 alg;
	enum dkim_canon	 hcanon;
	enum dkim_canon	 bcanon;
	char		 alg_name[16];
	char		 domain[DKIM_DOMAIN_MAX + 1];	/* lower case */
	char		 selector[DKIM_SELECTOR_MAX + 1];	/* lower case */
	struct dkim_slice auid;		/* i= if safe to show, or len 0 */
	bool		 auid_sub;	/* i= domain is a subdomain of d= */
	size_t		 nhdrs;
	size_t		 blen;
	char		 b_prefix[DKIM_B_PREFIX + 1];
	size_t		 bhlen;
	bool		 has_l;
	uint64_t	 l;
	bool		 has_t;
	uint64_t	 t;
	bool		 has_x;
	uint64_t	 x;
	size_t		 b_value_start;	/* b= value span in the text */
	size_t		 b_value_end;
	/* the big arrays last: dkim_sig_parse clears what is before */
	uint8_t		 b[DKIM_SIG_B_MAX];
	uint8_t		 bh[DKIM_BH_MAX];
	struct dkim_slice hdrs[DKIM_H_ITEMS_MAX];
};

/* Parse the value of a DKIM-Signature field (after the colon). Fills as
 * much of sig as it could read even on error (d=, s=, a= for results).
 * Returns 0, or -1 with *error_r (a fixed text). */
int dkim_sig_parse(const char *s, size_t len, struct dkim_sig *sig,
    const char **error_r);

/* A parsed key record (RFC 6376 3.6.1). */
struct dkim_key {
	enum dkim_keytype type;		/* k= */
	bool		 hash_sha256;	/* h= absent or lists sha256 */
	bool		 hash_sha1;
	bool		 service_email;	/* s= absent, "*" or "email" */
	bool		 testing;	/* t=y */
	bool		 strict;	/* t=s */
	bool		 revoked;	/* p= empty */
	uint8_t		 p[DKIM_KEY_P_MAX];
	size_t		 plen;
};

/* Returns 0, or -1 with *error_r. */
int dkim_key_parse(const char *s, size_t len, struct dkim_key *key,
    const char **error_r);

/* SHA-256, fetched from the provider once (an implicit fetch on every
 * digest init costs more than hashing a small message). Never NULL. */
const EVP_MD *dkim_sha256(void);

/* Strict base64 with FWS allowed anywhere (RFC 6376 2.4). Returns the
 * decoded length, or -1 (bad character or padding, out too small). */
long dkim_base64_decode(const char *s, size_t len, uint8_t *out,
    size_t outlen);
/* Is d the same as, or a subdomain of, parent (case-insensitive)? */
bool dkim_domain_within(const char *d, size_t dlen, const char *parent);
/* A domain (or selector) of letters, digits, '-', '_' and dots, lower
 * cased into out. Returns 0 or -1. */
int dkim_domain_copy(const char *s, size_t len, char *out, size_t outlen);

/* For ARC (arc.c), which signs and verifies like DKIM: check b over a
 * SHA-256 header hash with a parsed key (decoded through the key cache,
 * RSA below DKIM_RSA_BITS_MIN refused). Returns 1 valid, 0 not valid, -1
 * with *error_r (bad or small key, crypto failure); *bits_r is the key
 * size when known. (dkim_verify.c) */
int dkim_key_verify(const struct dkim_key *key, enum dkim_alg alg,
    const uint8_t *hash, const uint8_t *b, size_t blen, unsigned *bits_r,
    const char **error_r);

/* An RSA public key ready for direct verification (dkim_rsa.c): made
 * for keys with an odd exponent 3 <= e < 2^32 and at least
 * DKIM_RSA_BITS_MIN bits (else NULL: use EVP_PKEY_verify). Counted
 * references; the caller serialises ref and unref (the key cache's
 * lock). Verify: RSASSA-PKCS1-v1_5 of b over a SHA-256 hash; returns
 * 1 valid, 0 invalid, -1 error. Thread-safe. */
struct dkim_rsa;
struct dkim_rsa *dkim_rsa_new(EVP_PKEY *pk);
void dkim_rsa_ref(struct dkim_rsa *r);
void dkim_rsa_unref(struct dkim_rsa *r);
int dkim_rsa_verify(const struct dkim_rsa *r, const uint8_t *hash,
    const uint8_t *b, size_t blen);

/* Folded signature fields (dkim_fold.c). dkim_fold_put: append s (n
 * octets) at column *col, folding first ("CRLF SP") when it would pass
 * DKIM_FOLD_COLUMNS; space: separate with one SP if not folding.
 * dkim_fold_put_fmt: the same for a formatted tag, with the space.
 * dkim_fold_b: sig in base64 from column col, folded anywhere, then
 * CRLF. All return 0 or -1. */
#define DKIM_FOLD_COLUMNS	78	/* RFC 5322 2.1.1 */
int dkim_fold_put(struct buf *out, size_t *col, const char *s, size_t n,
    bool space);
int dkim_fold_put_fmt(struct buf *out, size_t *col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dkim_fold_b(struct buf *out, size_t col, const uint8_t *sig,
    size_t siglen);

struct dkim_signer;
/* Sign a SHA-256 hash with the signer's key (RSA PKCS#1 v1.5 or Ed25519
 * over the hash, as DKIM does); sig has room for DKIM_SIG_B_MAX. Returns
 * 0 or -1. And the signer's names and algorithm. (dkim_sign.c) */
int dkim_signer_sign_hash(const struct dkim_signer *s, const uint8_t *hash,
    uint8_t *sig, size_t *siglen);
const char *dkim_signer_domain(const struct dkim_signer *s);
const char *dkim_signer_selector(const struct dkim_signer *s);

/*
 * Message splitting and canonicalization (dkim_canon.c)
 */

struct dkim_field {
	size_t		 off;		/* in the header block */
	size_t		 len;		/* without the final CRLF */
	size_t		 name_len;	/* before ':' and WSP; 0: no colon */
};

struct dkim_body;
typedef void dkim_body_sink(void *ctx, const uint8_t *p, size_t n);

/* Collects the header block (bounded by DKIM_HEADER_MAX) and hands body
 * octets to a sink. */
struct dkim_msg {
	struct buf	 hdr;
	bool		 in_body;
	bool		 overflow;	/* header block too big */
	bool		 too_many;	/* more than DKIM_FIELDS_MAX fields */
	unsigned	 eoh;		/* CRLFCRLF matched so far */
	struct dkim_field *fields;
	size_t		 nfields;
	dkim_body_sink	*sink;
	void		*sink_ctx;
};

void dkim_msg_init(struct dkim_msg *m, dkim_body_sink *sink, void *ctx);
void dkim_msg_deinit(struct dkim_msg *m);
void dkim_msg_feed(struct dkim_msg *m, const uint8_t *p, size_t n);
/* Split the header block into fields (called once the body starts or at
 * the end of the message; idempotent). */
void dkim_msg_split(struct dkim_msg *m);
/* Does field f have this name (case-insensitive)? */
bool dkim_field_is(const struct dkim_msg *m, const struct dkim_field *f,
    const char *name, size_t len);

/* Canonicalize one header field (text without its final CRLF) and
 * append it to out, with a CRLF when crlf. Returns 0 or -1 (out full). */
int dkim_canon_header(enum dkim_canon c, const char *p, size_t len,
    bool crlf, struct buf *out);

/* Streaming body canonicalizer feeding a digest. */
struct dkim_body {
	enum dkim_canon	 canon;
	EVP_MD_CTX	*md;
	bool		 has_limit;
	uint64_t	 limit;		/* l= */
	uint64_t	 hashed;	/* canonical octets digested */
	uint64_t	 total;		/* canonical octets produced */
	uint64_t	 pending_crlf;	/* line ends not yet emitted */
	bool		 cr;		/* last input octet was CR */
	bool		 wsp;		/* relaxed: WSP pending in line */
	bool		 line;		/* current line has content */
	bool		 any;		/* anything emitted */
	bool		 failed;	/* digest error */
	size_t		 outlen;
	uint8_t		 out[DKIM_CANON_OUT];
};

/* md: a digest context already initialised (SHA-256); owned by the
 * caller. limit: l=, or has_limit false. */
void dkim_body_init(struct dkim_body *b, enum dkim_canon c, EVP_MD_CTX *md,
    bool has_limit, uint64_t limit);
void dkim_body_feed(struct dkim_body *b, const uint8_t *p, size_t n);
/* Flush; returns 0, or -1 on a digest failure. */
int dkim_body_end(struct dkim_body *b);

/* Hash the header fields named in h= (bottom-up instance selection; a
 * name listed more often than present adds nothing: it signs absence),
 * then the DKIM-Signature field sigf with its b= value cut out of
 * [bstart, bend) (offsets in the field's value after the colon...
 * expressed as offsets in the field text), without its CRLF. self is
 * the index of sigf in m->fields (never selected by h=) or SIZE_MAX.
 * Returns 0 or -1 (allocation bound, digest failure). */
int dkim_hash_headers(const struct dkim_msg *m, const struct dkim_slice *h,
    size_t nh, enum dkim_canon c, size_t self, const char *sigf,
    size_t siglen, size_t bstart, size_t bend, EVP_MD_CTX *md);

#endif
