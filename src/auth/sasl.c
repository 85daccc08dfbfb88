/* sasl: server-side SASL mechanisms (PLAIN, LOGIN, SCRAM-SHA-256[-PLUS])
 * as one explicit state machine per AUTH command. Decoded responses,
 * passwords and SCRAM keys are wiped with explicit_bzero() as soon as
 * they are used. Unknown users take the same path as known ones (a dummy
 * yescrypt hash for PLAIN/LOGIN, a per-process fake salt for SCRAM), so
 * the replies do not tell which names exist. */
#include "sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "passwd.h"
#include "scram.h"
#include "util.h"
#include "xalloc.h"

/* A valid yescrypt hash of a password nobody knows: unknown users cost
 * the same verification as known ones. */
#define SASL_DUMMY_HASH \
	"$y$j9T$qa4utoDZRCf3xtiosZlM90$khNu1Jtl0fxMFLHsyfGuEwNOaloNy5ZQJn/" \
	"qEgxu1u7"
#define SASL_SNONCE_BYTES	18	/* 24 base64 characters */
#define SASL_SNONCE_MAX		64
/* client-first-message-bare and the other SCRAM messages we keep */
#define SASL_MSG_MAX		(SASL_RESPONSE_MAX / 4 * 3)

#define CB_EXPORTER		"tls-exporter"
#define CB_ENDPOINT		"tls-server-end-point"

enum sasl_mech {
	MECH_PLAIN = 0,
	MECH_LOGIN,
	MECH_SCRAM,
	MECH_SCRAM_PLUS,
	MECH_COUNT
};

static const char *const mech_names[MECH_COUNT] = {
	[MECH_PLAIN] = "PLAIN",
	[MECH_LOGIN] = "LOGIN",
	[MECH_SCRAM] = "SCRAM-SHA-256",
	[MECH_SCRAM_PLUS] = "SCRAM-SHA-256-PLUS",
};

enum sasl_state {
	ST_INIT = 0,
	ST_PLAIN,		/* waiting for the PLAIN message */
	ST_LOGIN_USER,		/* sent "Username:" */
	ST_LOGIN_PASS,		/* sent "Password:" */
	ST_SCRAM_FIRST,		/* waiting for client-first-message */
	ST_SCRAM_FINAL,		/* sent server-first, waiting for final */
	ST_SCRAM_ACK,		/* sent server-final, waiting for "" */
	ST_DONE,
};

struct sasl_session {
	struct sasl_params	 p;
	struct sasl_cbind	 cbind;
	struct sasl_lookup	 lookup;
	enum sasl_mech		 mech;
	enum sasl_state		 state;
	char			 user[SASL_USER_MAX + 1];
	char			*out;		/* last challenge, base64 */
	/* SCRAM */
	char			 test_nonce[SASL_SNONCE_MAX + 1];
	char			*gs2_header;	/* "n,," ... as sent */
	size_t			 gs2_len;
	const uint8_t		*cb_data;	/* when the flag was "p" */
	size_t			 cb_len;
	char			*client_first_bare;
	char			*server_first;
	char			*nonce;		/* c-nonce + s-nonce */
	struct scram_cred	 cred;
	enum sasl_fail		 fail_later;	/* after a correct proof */
	const char		*fail_later_reason;
};

/*
 * Helpers
 */

static void
free_secret(char **p, size_t len)
{
	if (*p != NULL) {
		explicit_bzero(*p, len);
		free(*p);
		*p = NULL;
	}
}

static void
free_str(char **p)
{
	if (*p != NULL)
		free_secret(p, strlen(*p));
}

static enum sasl_status
fail(struct sasl_session *s, struct sasl_reply *r, enum sasl_fail f,
    const char *reason)
{
	s->state = ST_DONE;
	r->status = SASL_FAIL;
	r->challenge = NULL;
	r->user = s->user[0] != '\0' ? s->user : NULL;
	r->fail = f;
	r->reason = reason;
	r->fingerprint = 0;
	return SASL_FAIL;
}

void *
sasl_lookup_ctx(const struct sasl_session *s)
{
	return s->lookup.ctx;
}

static uint8_t fp_key[32];
static bool fp_key_set;

void
sasl_fingerprint_init(void)
{
	if (RAND_bytes(fp_key, sizeof(fp_key)) != 1)
		fatalx("sasl: no random bytes for the fingerprint key");
	fp_key_set = true;
}

/* HMAC-SHA256(key, user NUL password), first 8 bytes; never 0. */
static uint64_t
attempt_fingerprint(const char *user, const char *password)
{
	uint8_t md[EVP_MAX_MD_SIZE], *buf;
	size_t ul = strlen(user), pl = strlen(password);
	unsigned mdlen = 0;
	uint64_t v = 0;

	if (!fp_key_set)
		sasl_fingerprint_init();
	buf = xmalloc(ul + 1 + pl);
	memcpy(buf, user, ul + 1);
	memcpy(buf + ul + 1, password, pl);
	if (HMAC(EVP_sha256(), fp_key, sizeof(fp_key), buf, ul + 1 + pl, md,
	    &mdlen) == NULL || mdlen < sizeof(v))
		mdlen = 0;
	explicit_bzero(buf, ul + 1 + pl);
	free(buf);
	if (mdlen == 0)
		return 0;
	memcpy(&v, md, sizeof(v));
	explicit_bzero(md, sizeof(md));
	return v != 0 ? v : 1;
}

static enum sasl_status
ok(struct sasl_session *s, struct sasl_reply *r, const char *data)
{
	s->state = ST_DONE;
	r->status = SASL_OK;
	r->challenge = data;
	r->user = s->user;
	r->fail = SASL_FAIL_NONE;
	r->reason = NULL;
	return SASL_OK;
}

/* Send raw bytes as a base64 challenge. */
static enum sasl_status
challenge(struct sasl_session *s, struct sasl_reply *r, const void *data,
    size_t len, enum sasl_state next)
{
	size_t n = SCRAM_B64_LEN(len) + 1;

	free_str(&s->out);
	s->out = xmalloc(n);
	if (scram_b64_encode(data, len, s->out, n) < 0)
		return fail(s, r, SASL_FAIL_TEMP, "base64 encoding failed");
	s->state = next;
	r->status = SASL_CONTINUE;
	r->challenge = s->out;
	r->user = NULL;
	r->fail = SASL_FAIL_NONE;
	r->reason = NULL;
	return SASL_CONTINUE;
}

/* Decode a client line into a fresh NUL-terminated buffer (*len_r bytes
 * without the NUL). is_initial: "=" is the empty response. Returns 0, or
 * -1 after fail() has filled r. */
static int
decode_line(struct sasl_session *s, const char *line, size_t len,
    bool is_initial, uint8_t **out_r, size_t *len_r, struct sasl_reply *r)
{
	uint8_t *out;
	size_t cap;

	*out_r = NULL;
	*len_r = 0;
	if (len > SASL_RESPONSE_MAX) {
		fail(s, r, SASL_FAIL_TOO_LONG, "response too long");
		return -1;
	}
	if (!is_initial && len == 1 && line[0] == '*') {
		fail(s, r, SASL_FAIL_CANCELLED, "cancelled by client");
		return -1;
	}
	if (is_initial && len == 1 && line[0] == '=')
		len = 0;
	cap = len / 4 * 3 + 1;
	out = xmalloc(cap);
	if (scram_b64_decode(line, len, out, cap - 1, len_r) < 0) {
		explicit_bzero(out, cap);
		free(out);
		fail(s, r, SASL_FAIL_MALFORMED, "invalid base64");
		return -1;
	}
	out[*len_r] = '\0';
	*out_r = out;
	return 0;
}

static void
free_decoded(uint8_t **p, size_t len)
{
	if (*p != NULL) {
		explicit_bzero(*p, len + 1);
		free(*p);
		*p = NULL;
	}
}

/* Valid UTF-8 (RFC 3629: no overlongs, surrogates or > U+10FFFF) without
 * C0/C1 controls or DEL. */
static bool
valid_name(const uint8_t *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	if (len == 0 || len > SASL_USER_MAX)
		return false;
	while (i < len) {
		if (s[i] < 0x80) {
			if (s[i] < 0x20 || s[i] == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += n + 1;
	}
	return true;
}

/* Keep the authentication identity (lower-cased ASCII). */
static void
set_user(struct sasl_session *s, const uint8_t *name, size_t len)
{
	memcpy(s->user, name, len);	/* valid_name(): len <= USER_MAX */
	s->user[len] = '\0';
	ascii_lower(s->user);
}

static enum sasl_lookup_result
do_lookup(struct sasl_session *s, char *hash, size_t hashlen, char *scram,
    size_t scramlen)
{
	enum sasl_lookup_result lr;

	hash[0] = '\0';
	scram[0] = '\0';
	lr = s->lookup.lookup(s->lookup.ctx, s->user, hash, hashlen, scram,
	    scramlen);
	/* The callback must NUL-terminate; make sure of it. */
	hash[hashlen - 1] = '\0';
	scram[scramlen - 1] = '\0';
	return lr;
}

/* PLAIN and LOGIN: check password for s->user. */
static enum sasl_status
check_password(struct sasl_session *s, const char *password,
    struct sasl_reply *r)
{
	char hash[PASSWD_HASH_MAX], scram[SCRAM_CRED_MAX];
	struct scram_cred stored, mine;
	enum sasl_lookup_result lr;
	enum sasl_status st;
	bool good = false;

	lr = do_lookup(s, hash, sizeof(hash), scram, sizeof(scram));
	if (lr == SASL_LOOKUP_TEMPFAIL)
		return fail(s, r, SASL_FAIL_TEMP, "credential lookup failed");
	if (lr != SASL_LOOKUP_OK && lr != SASL_LOOKUP_DISABLED) {
		(void)passwd_verify(password, SASL_DUMMY_HASH);
		st = fail(s, r, SASL_FAIL_CREDENTIALS, "no such user");
		r->fingerprint = attempt_fingerprint(s->user, password);
		goto out;
	}
	if (hash[0] != '\0')
		good = passwd_verify(password, hash);
	else if (scram_cred_parse(scram, &stored) == 0) {
		/* an account with only a SCRAM credential */
		good = scram_derive_cred(password, stored.salt,
		    stored.salt_len, stored.iter, &mine) == 0 &&
		    scram_ct_equal(mine.stored_key, stored.stored_key,
		    SCRAM_KEY_LEN);
		explicit_bzero(&stored, sizeof(stored));
		explicit_bzero(&mine, sizeof(mine));
	} else
		(void)passwd_verify(password, SASL_DUMMY_HASH);
	if (!good) {
		st = fail(s, r, SASL_FAIL_CREDENTIALS, "wrong password");
		r->fingerprint = attempt_fingerprint(s->user, password);
	}
	else if (lr == SASL_LOOKUP_DISABLED)
		st = fail(s, r, SASL_FAIL_DISABLED,
		    "service disabled for account");
	else
		st = ok(s, r, NULL);
out:
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	return st;
}

/*
 * PLAIN (RFC 4616)
 *   message   = [authzid] UTF8NUL authcid UTF8NUL passwd
 */
static enum sasl_status
plain_response(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	const uint8_t *nul1, *nul2, *authcid, *pass;
	size_t zlen, clen, plen;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "PLAIN: missing NUL");
	/* UNSAFE: nul1 is within [msg, msg + len) */
	zlen = (size_t)(nul1 - msg);
	authcid = nul1 + 1;
	nul2 = memchr(authcid, '\0', len - zlen - 1);
	if (nul2 == NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "PLAIN: missing NUL");
	clen = (size_t)(nul2 - authcid);
	pass = nul2 + 1;
	plen = len - zlen - clen - 2;
	if (memchr(pass, '\0', plen) != NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "PLAIN: extra NUL");
	if (!valid_name(authcid, clen))
		return fail(s, r, SASL_FAIL_MALFORMED, "PLAIN: bad authcid");
	if (zlen > 0 && !valid_name(msg, zlen))
		return fail(s, r, SASL_FAIL_MALFORMED, "PLAIN: bad authzid");
	if (plen == 0 || plen > SASL_PASS_MAX)
		return fail(s, r, SASL_FAIL_MALFORMED,
		    "PLAIN: bad password length");
	set_user(s, authcid, clen);
	if (zlen > 0 && (zlen != clen ||
	    !ascii_nieq((const char *)msg, (const char *)authcid, clen)))
		return fail(s, r, SASL_FAIL_AUTHZ,
		    "authzid differs from authcid");
	/* pass is NUL-terminated by decode_line() */
	return check_password(s, (const char *)pass, r);
}

/*
 * LOGIN: S "Username:" C user S "Password:" C password
 */
static enum sasl_status
login_user(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	if (memchr(msg, '\0', len) != NULL || !valid_name(msg, len))
		return fail(s, r, SASL_FAIL_MALFORMED, "LOGIN: bad username");
	set_user(s, msg, len);
	return challenge(s, r, "Password:", 9, ST_LOGIN_PASS);
}

static enum sasl_status
login_pass(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	if (len == 0 || len > SASL_PASS_MAX ||
	    memchr(msg, '\0', len) != NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "LOGIN: bad password");
	return check_password(s, (const char *)msg, r);
}

/*
 * SCRAM-SHA-256 (RFC 5802 7, RFC 7677)
 */

static bool
offers_plus(const struct sasl_session *s)
{
	return (s->p.flags & SASL_F_TLS) != 0 &&
	    (s->cbind.exporter_len > 0 || s->cbind.endpoint_len > 0);
}

/* printable = %x21-2B / %x2D-7E */
static bool
valid_nonce(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || len > SASL_NONCE_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* saslname = 1*(value-safe-char / "=2C" / "=3D"): decode [p, p + len)
 * into out (NUL-terminated). Returns the decoded length or -1. */
static int
saslname_decode(const char *p, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (p[i] == '=') {
			if (len - i < 3)
				return -1;
			if (p[i + 1] == '2' && p[i + 2] == 'C')
				out[o++] = ',';
			else if (p[i + 1] == '3' && p[i + 2] == 'D')
				out[o++] = '=';
			else
				return -1;
			i += 2;
		} else if (p[i] == ',' || p[i] == '\0')
			return -1;
		else
			out[o++] = p[i];
	}
	out[o] = '\0';
	if (o == 0 || !valid_name((const uint8_t *)out, o))
		return -1;
	return (int)o;
}

/* A salt that looks real for a user without a SCRAM credential: an
 * HMAC of the name under a per-process random key. */
static int
fake_cred(struct sasl_session *s)
{
	static uint8_t key[32];
	static bool have_key;
	uint8_t mac[SCRAM_KEY_LEN];

	if (!have_key) {
		if (RAND_bytes(key, sizeof(key)) != 1)
			return -1;
		have_key = true;
	}
	memset(&s->cred, 0, sizeof(s->cred));
	if (scram_hmac(key, sizeof(key), s->user, strlen(s->user), mac) < 0)
		return -1;
	memcpy(s->cred.salt, mac, SCRAM_SALT_LEN);
	s->cred.salt_len = SCRAM_SALT_LEN;
	s->cred.iter = SCRAM_ITER_DEFAULT;
	/* StoredKey stays zero: no proof hashes to it in practice, and a
	 * fail_later is set anyway. */
	return 0;
}

/* gs2-header = gs2-cbind-flag "," [ authzid ] ","
 * client-first-message-bare = [reserved-mext ","] username "," nonce
 *                             ["," extensions] */
static enum sasl_status
scram_first(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	const char *m = (const char *)msg, *p, *end = m + len, *comma;
	char authzid[SASL_USER_MAX + 1], name[SASL_USER_MAX + 1];
	char hash[PASSWD_HASH_MAX], scram[SCRAM_CRED_MAX];
	char salt[SCRAM_B64_LEN(SCRAM_SALT_MAX) + 1];
	char snonce[SASL_SNONCE_MAX + 1];
	uint8_t rnd[SASL_SNONCE_BYTES];
	enum sasl_lookup_result lr;
	size_t cnonce_len, n;
	bool plus = s->mech == MECH_SCRAM_PLUS;
	int zlen = 0, ulen;
	char flag;

	if (memchr(msg, '\0', len) != NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: NUL in message");
	/* gs2-cbind-flag */
	if (len < 3)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: short message");
	flag = m[0];
	if ((flag == 'n' || flag == 'y') && m[1] == ',')
		p = m + 2;
	else if (flag == 'p' && m[1] == '=') {
		comma = memchr(m + 2, ',', len - 2);
		if (comma == NULL)
			return fail(s, r, SASL_FAIL_MALFORMED,
			    "SCRAM: bad gs2 header");
		n = (size_t)(comma - (m + 2));	/* UNSAFE: comma in m */
		if (n == strlen(CB_EXPORTER) &&
		    memcmp(m + 2, CB_EXPORTER, n) == 0) {
			s->cb_data = s->cbind.exporter;
			s->cb_len = s->cbind.exporter_len;
		} else if (n == strlen(CB_ENDPOINT) &&
		    memcmp(m + 2, CB_ENDPOINT, n) == 0) {
			s->cb_data = s->cbind.endpoint;
			s->cb_len = s->cbind.endpoint_len;
		}
		if (!plus)
			return fail(s, r, SASL_FAIL_CBIND, "SCRAM: channel "
			    "binding requested without -PLUS");
		if (s->cb_data == NULL || s->cb_len == 0 ||
		    (s->p.flags & SASL_F_TLS) == 0)
			return fail(s, r, SASL_FAIL_CBIND, "SCRAM: "
			    "unsupported channel binding type");
		p = comma + 1;
	} else
		return fail(s, r, SASL_FAIL_MALFORMED,
		    "SCRAM: bad gs2 header");
	if (plus && flag != 'p')
		return fail(s, r, SASL_FAIL_CBIND,
		    "SCRAM-PLUS without channel binding");
	/* RFC 5802 6: "y" while we offer PLUS is a downgrade */
	if (flag == 'y' && offers_plus(s))
		return fail(s, r, SASL_FAIL_CBIND, "SCRAM: client thinks we "
		    "do not support channel binding");
	/* [ authzid ] "," */
	if (p >= end)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: short message");
	authzid[0] = '\0';
	comma = memchr(p, ',', (size_t)(end - p));
	if (comma == NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: bad gs2 header");
	if (comma != p) {
		if (comma - p < 3 || p[0] != 'a' || p[1] != '=' ||
		    (zlen = saslname_decode(p + 2, (size_t)(comma - p - 2),
		    authzid, sizeof(authzid))) < 0)
			return fail(s, r, SASL_FAIL_MALFORMED,
			    "SCRAM: bad authzid");
	}
	p = comma + 1;
	s->gs2_len = (size_t)(p - m);
	s->gs2_header = xstrndup(m, s->gs2_len);
	/* client-first-message-bare */
	if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
		return fail(s, r, SASL_FAIL_MALFORMED,
		    "SCRAM: mandatory extension not supported");
	s->client_first_bare = xstrndup(p, (size_t)(end - p));
	if (end - p < 2 || p[0] != 'n' || p[1] != '=')
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: no username");
	comma = memchr(p, ',', (size_t)(end - p));
	if (comma == NULL || (ulen = saslname_decode(p + 2,
	    (size_t)(comma - p - 2), name, sizeof(name))) < 0)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: bad username");
	set_user(s, (const uint8_t *)name, (size_t)ulen);
	p = comma + 1;
	if (end - p < 2 || p[0] != 'r' || p[1] != '=')
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: no nonce");
	p += 2;
	comma = memchr(p, ',', (size_t)(end - p));
	cnonce_len = (size_t)((comma != NULL ? comma : end) - p);
	if (!valid_nonce(p, cnonce_len))
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: bad nonce");
	/* extensions after the nonce are ignored (RFC 5802 5.1) */
	if (zlen > 0 && ((size_t)zlen != strlen(s->user) ||
	    !ascii_ieq(authzid, s->user)))
		return fail(s, r, SASL_FAIL_AUTHZ,
		    "authzid differs from authcid");

	/* the server nonce */
	if (s->test_nonce[0] != '\0')
		(void)moat_strlcpy(snonce, s->test_nonce, sizeof(snonce));
	else if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    scram_b64_encode(rnd, sizeof(rnd), snonce, sizeof(snonce)) < 0)
		return fail(s, r, SASL_FAIL_TEMP, "no randomness");
	n = cnonce_len + strlen(snonce);
	s->nonce = xmalloc(n + 1);
	memcpy(s->nonce, p, cnonce_len);
	memcpy(s->nonce + cnonce_len, snonce, strlen(snonce) + 1);

	lr = do_lookup(s, hash, sizeof(hash), scram, sizeof(scram));
	explicit_bzero(hash, sizeof(hash));
	if (lr == SASL_LOOKUP_TEMPFAIL) {
		explicit_bzero(scram, sizeof(scram));
		return fail(s, r, SASL_FAIL_TEMP, "credential lookup failed");
	}
	if (lr == SASL_LOOKUP_NO_USER) {
		s->fail_later = SASL_FAIL_CREDENTIALS;
		s->fail_later_reason = "no such user";
	} else if (scram_cred_parse(scram, &s->cred) < 0) {
		s->fail_later = SASL_FAIL_CREDENTIALS;
		s->fail_later_reason = "account has no SCRAM credential "
		    "(set its password again)";
	} else if (lr == SASL_LOOKUP_DISABLED) {
		s->fail_later = SASL_FAIL_DISABLED;
		s->fail_later_reason = "service disabled for account";
	}
	explicit_bzero(scram, sizeof(scram));
	if (s->fail_later == SASL_FAIL_CREDENTIALS && fake_cred(s) < 0)
		return fail(s, r, SASL_FAIL_TEMP, "no randomness");

	/* server-first-message = nonce "," salt "," iteration-count */
	if (scram_b64_encode(s->cred.salt, s->cred.salt_len, salt,
	    sizeof(salt)) < 0)
		return fail(s, r, SASL_FAIL_TEMP, "salt encoding");
	n = strlen(s->nonce) + strlen(salt) + 32;
	s->server_first = xmalloc(n);
	if (snprintf(s->server_first, n, "r=%s,s=%s,i=%u", s->nonce, salt,
	    s->cred.iter) >= (int)n)
		return fail(s, r, SASL_FAIL_TEMP, "server-first too long");
	return challenge(s, r, s->server_first, strlen(s->server_first),
	    ST_SCRAM_FINAL);
}

/* client-final-message-without-proof = channel-binding "," nonce
 *                                      ["," extensions]
 * client-final-message = client-final-message-without-proof "," proof */
static enum sasl_status
scram_final(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	const char *m = (const char *)msg, *end = m + len, *p, *comma, *proof;
	uint8_t cb[SASL_CBIND_MAX + SASL_USER_MAX + 64];
	uint8_t want[SASL_CBIND_MAX + SASL_USER_MAX + 64];
	uint8_t got[SCRAM_KEY_LEN + 1], sig[SCRAM_KEY_LEN];
	uint8_t key[SCRAM_KEY_LEN], h[SCRAM_KEY_LEN];
	char v[3 + SCRAM_B64_LEN(SCRAM_KEY_LEN) + 1];
	size_t cblen, wantlen, gotlen, i, amlen, wplen, nlen;
	enum sasl_status st;
	char *am = NULL;
	bool good;

	if (memchr(msg, '\0', len) != NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: NUL in message");
	/* c= */
	if (len < 2 || m[0] != 'c' || m[1] != '=' ||
	    (comma = memchr(m, ',', len)) == NULL)
		return fail(s, r, SASL_FAIL_MALFORMED,
		    "SCRAM: no channel binding");
	if (scram_b64_decode(m + 2, (size_t)(comma - m - 2), cb, sizeof(cb),
	    &cblen) < 0)
		return fail(s, r, SASL_FAIL_MALFORMED,
		    "SCRAM: bad channel binding");
	/* cbind-input = gs2-header [ cbind-data ] */
	wantlen = s->gs2_len + s->cb_len;
	if (wantlen > sizeof(want))
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: gs2 too long");
	memcpy(want, s->gs2_header, s->gs2_len);
	if (s->cb_len > 0)
		memcpy(want + s->gs2_len, s->cb_data, s->cb_len);
	if (cblen != wantlen || !scram_ct_equal(cb, want, cblen))
		return fail(s, r, SASL_FAIL_CBIND,
		    "SCRAM: channel bindings do not match");
	/* r= */
	p = comma + 1;
	nlen = strlen(s->nonce);
	if (end - p < 2 || p[0] != 'r' || p[1] != '=' ||
	    (size_t)(end - p - 2) < nlen || memcmp(p + 2, s->nonce, nlen) != 0 ||
	    (p + 2 + nlen != end && p[2 + nlen] != ','))
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: nonce mismatch");
	/* the proof is the last attribute */
	proof = NULL;
	for (p = p + 2 + nlen; p + 3 <= end; p++)
		if (p[0] == ',' && p[1] == 'p' && p[2] == '=')
			proof = p;
	if (proof == NULL || memchr(proof + 3, ',',
	    (size_t)(end - proof - 3)) != NULL)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: no proof");
	if (scram_b64_decode(proof + 3, (size_t)(end - proof - 3), got,
	    sizeof(got), &gotlen) < 0 || gotlen != SCRAM_KEY_LEN)
		return fail(s, r, SASL_FAIL_MALFORMED, "SCRAM: bad proof");
	wplen = (size_t)(proof - m);	/* UNSAFE: proof is in m */

	/* AuthMessage := client-first-message-bare + "," +
	 *                server-first-message + "," +
	 *                client-final-message-without-proof */
	amlen = strlen(s->client_first_bare) + 1 + strlen(s->server_first) +
	    1 + wplen;
	am = xmalloc(amlen + 1);
	i = 0;
	memcpy(am, s->client_first_bare, strlen(s->client_first_bare));
	i += strlen(s->client_first_bare);
	am[i++] = ',';
	memcpy(am + i, s->server_first, strlen(s->server_first));
	i += strlen(s->server_first);
	am[i++] = ',';
	memcpy(am + i, m, wplen);
	am[amlen] = '\0';

	/* ClientSignature := HMAC(StoredKey, AuthMessage)
	 * ClientKey := ClientProof XOR ClientSignature
	 * valid when H(ClientKey) == StoredKey */
	if (scram_hmac(s->cred.stored_key, SCRAM_KEY_LEN, am, amlen,
	    sig) < 0) {
		st = fail(s, r, SASL_FAIL_TEMP, "SCRAM: HMAC failed");
		goto out;
	}
	for (i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = got[i] ^ sig[i];
	if (scram_hash(key, sizeof(key), h) < 0) {
		st = fail(s, r, SASL_FAIL_TEMP, "SCRAM: hash failed");
		goto out;
	}
	good = scram_ct_equal(h, s->cred.stored_key, SCRAM_KEY_LEN);
	if (!good) {
		st = fail(s, r, SASL_FAIL_CREDENTIALS,
		    s->fail_later == SASL_FAIL_CREDENTIALS ?
		    s->fail_later_reason : "wrong password");
		goto out;
	}
	if (s->fail_later != SASL_FAIL_NONE) {
		st = fail(s, r, s->fail_later, s->fail_later_reason);
		goto out;
	}
	/* ServerSignature := HMAC(ServerKey, AuthMessage) */
	if (scram_hmac(s->cred.server_key, SCRAM_KEY_LEN, am, amlen,
	    sig) < 0) {
		st = fail(s, r, SASL_FAIL_TEMP, "SCRAM: HMAC failed");
		goto out;
	}
	memcpy(v, "v=", 2);
	if (scram_b64_encode(sig, sizeof(sig), v + 2, sizeof(v) - 2) < 0) {
		st = fail(s, r, SASL_FAIL_TEMP, "SCRAM: encoding failed");
		goto out;
	}
	if ((s->p.flags & SASL_F_SUCCESS_DATA) != 0) {
		st = challenge(s, r, v, strlen(v), ST_DONE);
		if (st == SASL_CONTINUE)
			st = ok(s, r, s->out);
	} else
		st = challenge(s, r, v, strlen(v), ST_SCRAM_ACK);
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(got, sizeof(got));
	explicit_bzero(h, sizeof(h));
	free_secret(&am, amlen + 1);
	return st;
}

/*
 * Public API
 */

int
sasl_mechanisms(const struct sasl_params *p, char *out, size_t outlen)
{
	bool tls = (p->flags & SASL_F_TLS) != 0;
	bool plus = tls && p->cbind != NULL &&
	    (p->cbind->exporter_len > 0 || p->cbind->endpoint_len > 0);
	int n;

	if (!tls && (p->flags & SASL_F_PLAINTEXT_OK) == 0)
		n = snprintf(out, outlen, "%s", "");
	else
		n = snprintf(out, outlen, "%s%s %s %s",
		    plus ? "SCRAM-SHA-256-PLUS " : "", mech_names[MECH_SCRAM],
		    mech_names[MECH_PLAIN], mech_names[MECH_LOGIN]);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

struct sasl_session *
sasl_new(const struct sasl_params *p)
{
	struct sasl_session *s = xcalloc(1, sizeof(*s));

	s->p = *p;
	if (p->cbind != NULL)
		s->cbind = *p->cbind;
	s->p.cbind = NULL;	/* use s->cbind */
	if (p->lookup != NULL)
		s->lookup = *p->lookup;
	s->p.lookup = NULL;
	s->state = ST_INIT;
	return s;
}

void
sasl_free(struct sasl_session **sp)
{
	struct sasl_session *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	free_str(&s->out);
	free_str(&s->gs2_header);
	free_str(&s->client_first_bare);
	free_str(&s->server_first);
	free_str(&s->nonce);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
sasl_test_set_nonce(struct sasl_session *s, const char *nonce)
{
	if (!valid_nonce(nonce, strlen(nonce)) ||
	    moat_strlcpy(s->test_nonce, nonce, sizeof(s->test_nonce)) >=
	    sizeof(s->test_nonce))
		s->test_nonce[0] = '\0';
}

/* Dispatch one decoded response by state. */
static enum sasl_status
dispatch(struct sasl_session *s, const uint8_t *msg, size_t len,
    struct sasl_reply *r)
{
	switch (s->state) {
	case ST_PLAIN:
		return plain_response(s, msg, len, r);
	case ST_LOGIN_USER:
		return login_user(s, msg, len, r);
	case ST_LOGIN_PASS:
		return login_pass(s, msg, len, r);
	case ST_SCRAM_FIRST:
		return scram_first(s, msg, len, r);
	case ST_SCRAM_FINAL:
		return scram_final(s, msg, len, r);
	case ST_SCRAM_ACK:
		if (len != 0)
			return fail(s, r, SASL_FAIL_MALFORMED,
			    "SCRAM: data after server-final");
		return ok(s, r, NULL);
	case ST_INIT:
	case ST_DONE:
		break;
	}
	return fail(s, r, SASL_FAIL_MALFORMED, "no exchange in progress");
}

enum sasl_status
sasl_start(struct sasl_session *s, const char *mech, const char *initial,
    struct sasl_reply *r)
{
	enum sasl_status st;
	uint8_t *msg;
	size_t len;
	int i;

	if (s->state != ST_INIT)
		return fail(s, r, SASL_FAIL_MALFORMED, "exchange already begun");
	for (i = 0; i < MECH_COUNT; i++)
		if (ascii_ieq(mech, mech_names[i]))
			break;
	if (i == MECH_COUNT)
		return fail(s, r, SASL_FAIL_UNKNOWN_MECH, "unknown mechanism");
	s->mech = (enum sasl_mech)i;
	if (s->lookup.lookup == NULL)
		return fail(s, r, SASL_FAIL_TEMP, "no credential lookup");
	if ((s->p.flags & SASL_F_TLS) == 0 &&
	    (s->p.flags & SASL_F_PLAINTEXT_OK) == 0)
		return fail(s, r, SASL_FAIL_ENCRYPT, "TLS required");
	if (s->mech == MECH_SCRAM_PLUS && !offers_plus(s))
		return fail(s, r, SASL_FAIL_UNKNOWN_MECH,
		    "channel binding not available");
	switch (s->mech) {
	case MECH_PLAIN:
		s->state = ST_PLAIN;
		break;
	case MECH_LOGIN:
		s->state = ST_LOGIN_USER;
		break;
	case MECH_SCRAM:
	case MECH_SCRAM_PLUS:
	case MECH_COUNT:
		s->state = ST_SCRAM_FIRST;
		break;
	}
	if (initial == NULL) {
		if (s->state == ST_LOGIN_USER)
			return challenge(s, r, "Username:", 9, ST_LOGIN_USER);
		return challenge(s, r, "", 0, s->state);
	}
	if (decode_line(s, initial, strlen(initial), true, &msg, &len,
	    r) < 0)
		return SASL_FAIL;
	st = dispatch(s, msg, len, r);
	free_decoded(&msg, len);
	return st;
}

enum sasl_status
sasl_step(struct sasl_session *s, const char *line, size_t len,
    struct sasl_reply *r)
{
	enum sasl_status st;
	uint8_t *msg;
	size_t mlen;

	if (s->state == ST_INIT || s->state == ST_DONE)
		return fail(s, r, SASL_FAIL_MALFORMED, "no exchange in progress");
	if (decode_line(s, line, len, false, &msg, &mlen, r) < 0)
		return SASL_FAIL;
	st = dispatch(s, msg, mlen, r);
	free_decoded(&msg, mlen);
	return st;
}

static const struct {
	const char	*name;
	int		 smtp;
	const char	*enh;
	const char	*text;
	const char	*imap;		/* "BAD" or "NO" */
	const char	*imap_code;
} fail_info[] = {
	[SASL_FAIL_NONE] = { "none", 235, "2.7.0",
	    "Authentication successful", "OK", NULL },
	[SASL_FAIL_MALFORMED] = { "malformed", 501, "5.5.2",
	    "Cannot decode response", "BAD", NULL },
	[SASL_FAIL_TOO_LONG] = { "too-long", 500, "5.5.6",
	    "Authentication Exchange line is too long", "BAD", NULL },
	[SASL_FAIL_CANCELLED] = { "cancelled", 501, "5.7.0",
	    "Authentication cancelled", "BAD", NULL },
	[SASL_FAIL_UNKNOWN_MECH] = { "unknown-mechanism", 504, "5.5.4",
	    "Unrecognized authentication type", "NO", "CANNOT" },
	[SASL_FAIL_ENCRYPT] = { "encryption-required", 538, "5.7.11",
	    "Encryption required for requested authentication mechanism",
	    "NO", "PRIVACYREQUIRED" },
	[SASL_FAIL_CREDENTIALS] = { "credentials", 535, "5.7.8",
	    "Authentication credentials invalid", "NO",
	    "AUTHENTICATIONFAILED" },
	[SASL_FAIL_AUTHZ] = { "authzid", 535, "5.7.8",
	    "Authorization identity not allowed", "NO",
	    "AUTHORIZATIONFAILED" },
	[SASL_FAIL_CBIND] = { "channel-binding", 535, "5.7.8",
	    "Authentication credentials invalid", "NO",
	    "AUTHENTICATIONFAILED" },
	[SASL_FAIL_DISABLED] = { "disabled", 535, "5.7.8",
	    "Authentication credentials invalid", "NO",
	    "AUTHENTICATIONFAILED" },
	[SASL_FAIL_TEMP] = { "temp", 454, "4.7.0",
	    "Temporary authentication failure", "NO", "UNAVAILABLE" },
};

static unsigned
fail_index(enum sasl_fail f)
{
	if ((unsigned)f >= sizeof(fail_info) / sizeof(fail_info[0]))
		return SASL_FAIL_TEMP;
	return (unsigned)f;
}

const char *
sasl_fail_name(enum sasl_fail f)
{
	return fail_info[fail_index(f)].name;
}

void
sasl_fail_smtp(enum sasl_fail f, int *code_r, const char **enh_r,
    const char **text_r)
{
	unsigned i = fail_index(f);

	*code_r = fail_info[i].smtp;
	*enh_r = fail_info[i].enh;
	*text_r = fail_info[i].text;
}

void
sasl_fail_imap(enum sasl_fail f, const char **result_r, const char **code_r)
{
	unsigned i = fail_index(f);

	*result_r = fail_info[i].imap;
	*code_r = fail_info[i].imap_code;
}

int
sasl_cbind_from_ssl(struct ssl_st *ssl, struct sasl_cbind *cb)
{
	static const char label[] = "EXPORTER-Channel-Binding";
	const EVP_MD *md = NULL;
	unsigned int n = 0;
	X509 *cert;
	int mdnid = NID_undef;

	memset(cb, 0, sizeof(*cb));
	/* RFC 9266 2: 32 bytes, empty context; TLS 1.3 only here (TLS 1.2
	 * would need the extended master secret). */
	if (SSL_version(ssl) >= TLS1_3_VERSION) {
		if (SSL_export_keying_material(ssl, cb->exporter, 32, label,
		    sizeof(label) - 1, NULL, 0, 0) != 1)
			return -1;
		cb->exporter_len = 32;
	}
	/* RFC 5929 4.1: the certificate's signature hash; MD5 and SHA-1
	 * (and signatures without a separate hash, like Ed25519) use
	 * SHA-256. */
	cert = SSL_get_certificate(ssl);
	if (cert == NULL)
		return 0;
	if (X509_get_signature_info(cert, &mdnid, NULL, NULL, NULL) == 1 &&
	    mdnid != NID_undef && mdnid != NID_md5 && mdnid != NID_sha1)
		md = EVP_get_digestbynid(mdnid);
	if (md == NULL)
		md = EVP_sha256();
	if ((size_t)EVP_MD_get_size(md) > sizeof(cb->endpoint) ||
	    X509_digest(cert, md, cb->endpoint, &n) != 1)
		return -1;
	cb->endpoint_len = n;
	return 0;
}
