/* test_sasl: the SASL mechanisms (PLAIN, LOGIN, SCRAM-SHA-256[-PLUS])
 * against a fake credential lookup, the RFC 7677 3 SCRAM exchange, and
 * the SCRAM credential format and strict base64 of scram.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/sasl.h"
#include "auth/scram.h"
#include "passwd.h"

/* RFC 7677 3 */
#define RFC_USER	"user"
#define RFC_PASS	"pencil"
#define RFC_SALT	"W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CNONCE	"rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE	"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CFIRST	"n,,n=user,r=" RFC_CNONCE
#define RFC_SFIRST	"r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_CFINAL	"c=biws,r=" RFC_CNONCE RFC_SNONCE \
			",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFINAL	"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

struct fake_user {
	const char			*name;
	enum sasl_lookup_result		 result;
	char				 hash[PASSWD_HASH_MAX];
	char				 scram[SCRAM_CRED_MAX];
};

struct fake {
	struct fake_user	 users[4];
	size_t			 n;
	bool			 tempfail;
	int			 calls;
	char			 last[SASL_USER_MAX + 1];
};

static struct fake fake;
static struct sasl_lookup fake_lookup_cb;
static struct sasl_cbind cbind;

static enum sasl_lookup_result
fake_lookup(void *ctx, const char *user, char *hash, size_t hashlen,
    char *scram, size_t scramlen)
{
	struct fake *f = ctx;
	size_t i;

	f->calls++;
	snprintf(f->last, sizeof(f->last), "%s", user);
	if (f->tempfail)
		return SASL_LOOKUP_TEMPFAIL;
	for (i = 0; i < f->n; i++) {
		if (strcmp(f->users[i].name, user) != 0)
			continue;
		snprintf(hash, hashlen, "%s", f->users[i].hash);
		snprintf(scram, scramlen, "%s", f->users[i].scram);
		return f->users[i].result;
	}
	return SASL_LOOKUP_NO_USER;
}

static void
add_user(const char *name, const char *password, bool with_hash,
    bool with_scram, enum sasl_lookup_result result)
{
	struct fake_user *u = &fake.users[fake.n++];
	uint8_t salt[SCRAM_SALT_MAX];
	struct scram_cred c;
	size_t saltlen;

	u->name = name;
	u->result = result;
	if (with_hash)
		assert_int_equal(passwd_hash(password, u->hash,
		    sizeof(u->hash)), 0);
	if (!with_scram)
		return;
	/* the RFC salt, so the RFC 7677 exchange works for "user" */
	assert_int_equal(scram_b64_decode(RFC_SALT, strlen(RFC_SALT), salt,
	    sizeof(salt), &saltlen), 0);
	assert_int_equal(scram_derive_cred(password, salt, saltlen, 4096,
	    &c), 0);
	assert_int_equal(scram_cred_format(&c, u->scram, sizeof(u->scram)),
	    0);
}

static int
setup_group(void **state)
{
	size_t i;

	(void)state;
	memset(&fake, 0, sizeof(fake));
	add_user("user", RFC_PASS, true, true, SASL_LOOKUP_OK);
	add_user("alice@example.org", "secret", true, true, SASL_LOOKUP_OK);
	add_user("off@example.org", "secret", true, true,
	    SASL_LOOKUP_DISABLED);
	add_user("scramonly@example.org", "secret", false, true,
	    SASL_LOOKUP_OK);
	fake_lookup_cb.lookup = fake_lookup;
	fake_lookup_cb.ctx = &fake;
	for (i = 0; i < 32; i++) {
		cbind.exporter[i] = (uint8_t)(0xa0 + i);
		cbind.endpoint[i] = (uint8_t)(0x10 + i);
	}
	cbind.exporter_len = 32;
	cbind.endpoint_len = 32;
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	fake.tempfail = false;
	fake.calls = 0;
	fake.last[0] = '\0';
	return 0;
}

static struct sasl_session *
new_session(unsigned flags, bool with_cbind)
{
	struct sasl_params p = {
		.flags = flags,
		.lookup = &fake_lookup_cb,
		.cbind = with_cbind ? &cbind : NULL,
	};

	return sasl_new(&p);
}

/* base64 of len bytes, in a static buffer */
static const char *
b64(const void *data, size_t len)
{
	static char out[4][SASL_RESPONSE_MAX + 8];
	static int idx;
	char *o = out[idx++ % 4];

	assert_true(scram_b64_encode(data, len, o, SASL_RESPONSE_MAX + 8) >= 0);
	return o;
}

static const char *
b64s(const char *s)
{
	return b64(s, strlen(s));
}

/* decode a challenge into a C string */
static const char *
unb64(const char *s)
{
	static uint8_t out[SASL_RESPONSE_MAX];
	size_t len;

	assert_non_null(s);
	assert_int_equal(scram_b64_decode(s, strlen(s), out, sizeof(out) - 1,
	    &len), 0);
	out[len] = '\0';
	return (const char *)out;
}

static enum sasl_status
step(struct sasl_session *s, const char *line, struct sasl_reply *r)
{
	return sasl_step(s, line, strlen(line), r);
}

static void
expect_fail(const struct sasl_reply *r, enum sasl_fail f)
{
	assert_int_equal(r->status, SASL_FAIL);
	if (r->fail != f)
		fail_msg("fail %s (%s), expected %s", sasl_fail_name(r->fail),
		    r->reason != NULL ? r->reason : "", sasl_fail_name(f));
	assert_non_null(r->reason);
}

/* One-shot PLAIN with an initial response. */
static void
plain(unsigned flags, const void *msg, size_t len, struct sasl_reply *r,
    struct sasl_session **sp)
{
	*sp = new_session(flags, false);
	(void)sasl_start(*sp, "PLAIN", b64(msg, len), r);
}

#define PLAIN_MSG(s) (s), sizeof(s) - 1

/*
 * base64 and the credential format
 */

static void
test_b64_strict(void **state)
{
	static const char *const bad[] = {
		"=AAA", "AAA=BBBB", "AA=A", "A===", "====", "QQ", "QQ=",
		"Q Q=", "QQ==\r", "QR==", "QUI=QUI=", "QUJ=", "A-B_",
	};
	uint8_t out[64];
	char enc[64];
	size_t len, i;

	(void)state;
	assert_int_equal(scram_b64_decode("", 0, out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(scram_b64_decode("QQ==", 4, out, sizeof(out), &len),
	    0);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(scram_b64_decode("QUI=", 4, out, sizeof(out), &len),
	    0);
	assert_int_equal(len, 2);
	assert_int_equal(scram_b64_decode("QUJD", 4, out, sizeof(out), &len),
	    0);
	assert_int_equal(len, 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scram_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out),
		    &len) == 0)
			fail_msg("accepted '%s'", bad[i]);
	/* too small an output buffer */
	assert_int_equal(scram_b64_decode("QUJD", 4, out, 2, &len), -1);
	for (i = 0; i < 10; i++) {
		memset(out, 0xfe - (int)i, i);
		assert_int_equal(scram_b64_encode(out, i, enc, sizeof(enc)),
		    (int)SCRAM_B64_LEN(i));
		assert_int_equal(scram_b64_decode(enc, strlen(enc), out + 20,
		    30, &len), 0);
		assert_int_equal(len, i);
		assert_memory_equal(out, out + 20, i);
	}
	assert_int_equal(scram_b64_encode(out, 3, enc, 4), -1);
	assert_int_equal(scram_b64_encode(out, 3, enc, 5), 4);
}

static void
test_scram_derive_parse_roundtrip(void **state)
{
	char text[SCRAM_CRED_MAX], text2[SCRAM_CRED_MAX];
	struct scram_cred c, c2;

	(void)state;
	assert_int_equal(scram_derive("pencil", SCRAM_ITER_DEFAULT, text,
	    sizeof(text)), 0);
	assert_int_equal(strncmp(text, "SCRAM-SHA-256$4096:", 19), 0);
	assert_null(strstr(text, "pencil"));
	assert_int_equal(scram_cred_parse(text, &c), 0);
	assert_int_equal(c.iter, 4096);
	assert_int_equal(c.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(scram_cred_format(&c, text2, sizeof(text2)), 0);
	assert_string_equal(text, text2);
	/* same salt and password, same keys */
	assert_int_equal(scram_derive_cred("pencil", c.salt, c.salt_len,
	    c.iter, &c2), 0);
	assert_memory_equal(c.stored_key, c2.stored_key, SCRAM_KEY_LEN);
	assert_memory_equal(c.server_key, c2.server_key, SCRAM_KEY_LEN);
	assert_int_equal(scram_derive_cred("pencil!", c.salt, c.salt_len,
	    c.iter, &c2), 0);
	assert_memory_not_equal(c.stored_key, c2.stored_key, SCRAM_KEY_LEN);
	/* a fresh salt each time */
	assert_int_equal(scram_derive("pencil", 5000, text2, sizeof(text2)),
	    0);
	assert_int_equal(strncmp(text2, "SCRAM-SHA-256$5000:", 19), 0);
	assert_string_not_equal(text, text2);
	/* limits */
	assert_int_equal(scram_derive("pencil", 4095, text2, sizeof(text2)),
	    -1);
	assert_int_equal(scram_derive("pencil", SCRAM_ITER_MAX + 1, text2,
	    sizeof(text2)), -1);
	assert_int_equal(scram_derive("pencil", 4096, text2, 40), -1);
}

static void
test_scram_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4095:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$04096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ",
		"$y$j9T$abc",
	};
	struct scram_cred c;
	size_t i;

	(void)state;
	assert_int_equal(scram_cred_parse("SCRAM-SHA-256$4096:"
	    "W22ZaJ0SNY7soEsUEjb6gQ==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &c), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (scram_cred_parse(bad[i], &c) == 0)
			fail_msg("accepted '%s'", bad[i]);
}

/*
 * Mechanism list, unknown mechanism, TLS
 */

static void
test_mechanisms(void **state)
{
	struct sasl_params p = { .lookup = &fake_lookup_cb };
	char out[SASL_MECHS_MAX];

	(void)state;
	assert_int_equal(sasl_mechanisms(&p, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	p.flags = SASL_F_PLAINTEXT_OK;
	assert_int_equal(sasl_mechanisms(&p, out, sizeof(out)), 0);
	assert_string_equal(out, "SCRAM-SHA-256 PLAIN LOGIN");
	p.cbind = &cbind;	/* no TLS: no PLUS */
	assert_int_equal(sasl_mechanisms(&p, out, sizeof(out)), 0);
	assert_string_equal(out, "SCRAM-SHA-256 PLAIN LOGIN");
	p.flags = SASL_F_TLS;
	assert_int_equal(sasl_mechanisms(&p, out, sizeof(out)), 0);
	assert_string_equal(out,
	    "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN");
	p.cbind = NULL;
	assert_int_equal(sasl_mechanisms(&p, out, sizeof(out)), 0);
	assert_string_equal(out, "SCRAM-SHA-256 PLAIN LOGIN");
	assert_int_equal(sasl_mechanisms(&p, out, 10), -1);
}

static void
test_unknown_mech_and_tls_required(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;

	(void)state;
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "CRAM-MD5", NULL, &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_UNKNOWN_MECH);
	sasl_free(&s);
	assert_null(s);
	sasl_free(&s);		/* NULL-safe */

	/* PLUS without channel binding data is not offered */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "SCRAM-SHA-256-PLUS", NULL, &r),
	    SASL_FAIL);
	expect_fail(&r, SASL_FAIL_UNKNOWN_MECH);
	sasl_free(&s);

	s = new_session(0, false);
	assert_int_equal(sasl_start(s, "plain", NULL, &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_ENCRYPT);
	sasl_free(&s);
	assert_int_equal(fake.calls, 0);

	/* allowed by configuration */
	s = new_session(SASL_F_PLAINTEXT_OK, false);
	assert_int_equal(sasl_start(s, "plain", NULL, &r), SASL_CONTINUE);
	sasl_free(&s);
}

/*
 * PLAIN
 */

static void
test_plain_good(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;

	(void)state;
	plain(SASL_F_TLS, PLAIN_MSG("\0alice@example.org\0secret"), &r, &s);
	assert_int_equal(r.status, SASL_OK);
	assert_string_equal(r.user, "alice@example.org");
	assert_null(r.challenge);
	sasl_free(&s);

	/* authzid equal to authcid; names are case-insensitive */
	plain(SASL_F_TLS, PLAIN_MSG("Alice@Example.org\0ALICE@example.org\0"
	    "secret"), &r, &s);
	assert_int_equal(r.status, SASL_OK);
	assert_string_equal(r.user, "alice@example.org");
	assert_string_equal(fake.last, "alice@example.org");
	sasl_free(&s);

	/* without an initial response: empty challenge first */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", NULL, &r), SASL_CONTINUE);
	assert_string_equal(r.challenge, "");
	assert_int_equal(step(s, b64("\0alice@example.org\0secret", 25), &r),
	    SASL_OK);
	assert_string_equal(r.user, "alice@example.org");
	/* finished: anything more fails */
	assert_int_equal(step(s, "", &r), SASL_FAIL);
	sasl_free(&s);

	/* an account with only a SCRAM credential */
	plain(SASL_F_TLS, PLAIN_MSG("\0scramonly@example.org\0secret"), &r,
	    &s);
	assert_int_equal(r.status, SASL_OK);
	sasl_free(&s);
	plain(SASL_F_TLS, PLAIN_MSG("\0scramonly@example.org\0Secret"), &r,
	    &s);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	sasl_free(&s);
}

static void
test_plain_bad_credentials(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;

	(void)state;
	plain(SASL_F_TLS, PLAIN_MSG("\0alice@example.org\0Secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	assert_string_equal(r.user, "alice@example.org");
	sasl_free(&s);

	plain(SASL_F_TLS, PLAIN_MSG("\0nobody@example.org\0secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	sasl_free(&s);

	/* disabled: a distinct reason only with the right password */
	plain(SASL_F_TLS, PLAIN_MSG("\0off@example.org\0secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_DISABLED);
	sasl_free(&s);
	plain(SASL_F_TLS, PLAIN_MSG("\0off@example.org\0wrong"), &r, &s);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	sasl_free(&s);

	fake.tempfail = true;
	plain(SASL_F_TLS, PLAIN_MSG("\0alice@example.org\0secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_TEMP);
	sasl_free(&s);
}

static void
test_plain_authzid_mismatch(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;

	(void)state;
	plain(SASL_F_TLS, PLAIN_MSG("bob@example.org\0alice@example.org\0"
	    "secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_AUTHZ);
	assert_int_equal(fake.calls, 0);	/* refused before lookup */
	sasl_free(&s);
	plain(SASL_F_TLS, PLAIN_MSG("alice@example.orgx\0alice@example.org\0"
	    "secret"), &r, &s);
	expect_fail(&r, SASL_FAIL_AUTHZ);
	sasl_free(&s);
}

static void
test_plain_malformed(void **state)
{
	static const char *const bad_b64[] = {
		"AGFsaWNlAHNlY3JldA", "=AAA", "AGFs=aWNl", "AGFs aWNl",
		"AGFsaWNl\tAHNl", "*", "AGF\x80sa",
	};
	static const struct {
		const char	*msg;
		size_t		 len;
	} bad_msg[] = {
		{ PLAIN_MSG("alice@example.org secret") },	/* no NUL */
		{ PLAIN_MSG("\0alice@example.org") },		/* one NUL */
		{ PLAIN_MSG("\0alice@example.org\0") },		/* no pass */
		{ PLAIN_MSG("\0\0secret") },			/* no user */
		{ PLAIN_MSG("\0alice@example.org\0sec\0ret") },	/* 3 NULs */
		{ PLAIN_MSG("\0al\x01ice\0secret") },		/* control */
		{ PLAIN_MSG("\0al\xc3ice\0secret") },		/* bad UTF-8 */
		{ PLAIN_MSG("\0\xc0\xaf\0secret") },		/* overlong */
		{ PLAIN_MSG("\0\xed\xa0\x80\0secret") },	/* surrogate */
		{ PLAIN_MSG("") },
	};
	struct sasl_session *s;
	struct sasl_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
		s = new_session(SASL_F_TLS, false);
		assert_int_equal(sasl_start(s, "PLAIN", bad_b64[i], &r),
		    SASL_FAIL);
		expect_fail(&r, SASL_FAIL_MALFORMED);
		sasl_free(&s);
	}
	for (i = 0; i < sizeof(bad_msg) / sizeof(bad_msg[0]); i++) {
		plain(SASL_F_TLS, bad_msg[i].msg, bad_msg[i].len, &r, &s);
		if (r.status != SASL_FAIL || r.fail != SASL_FAIL_MALFORMED)
			fail_msg("case %zu: status %d fail %s", i, r.status,
			    sasl_fail_name(r.fail));
		sasl_free(&s);
	}
	/* "=" initial response: empty, so malformed for PLAIN */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", "=", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	/* an embedded NUL in the wire line */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", NULL, &r), SASL_CONTINUE);
	assert_int_equal(sasl_step(s, "AGFs\0aWNl", 9, &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	assert_int_equal(fake.calls, 0);
}

static void
test_plain_oversize(void **state)
{
	char *line, *pw;
	struct sasl_session *s;
	struct sasl_reply r;
	char msg[SASL_PASS_MAX + 64];
	size_t n;

	(void)state;
	line = malloc(SASL_RESPONSE_MAX + 5);
	assert_non_null(line);
	memset(line, 'A', SASL_RESPONSE_MAX + 4);
	line[SASL_RESPONSE_MAX + 4] = '\0';
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", NULL, &r), SASL_CONTINUE);
	assert_int_equal(step(s, line, &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_TOO_LONG);
	sasl_free(&s);
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", line, &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_TOO_LONG);
	sasl_free(&s);
	free(line);

	/* password longer than SASL_PASS_MAX */
	memcpy(msg, "\0alice@example.org\0", 19);
	pw = msg + 19;
	memset(pw, 'x', SASL_PASS_MAX + 1);
	n = 19 + SASL_PASS_MAX + 1;
	plain(SASL_F_TLS, msg, n, &r, &s);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);

	/* user name longer than SASL_USER_MAX */
	msg[0] = '\0';
	memset(msg + 1, 'u', SASL_USER_MAX + 1);
	memcpy(msg + 2 + SASL_USER_MAX, "\0pw", 3);
	plain(SASL_F_TLS, msg, SASL_USER_MAX + 5, &r, &s);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
}

/*
 * LOGIN and cancel
 */

static void
test_login_flow(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;

	(void)state;
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "LOGIN", NULL, &r), SASL_CONTINUE);
	assert_string_equal(r.challenge, "VXNlcm5hbWU6");	/* Username: */
	assert_int_equal(step(s, b64s("alice@example.org"), &r),
	    SASL_CONTINUE);
	assert_string_equal(r.challenge, "UGFzc3dvcmQ6");	/* Password: */
	assert_int_equal(step(s, b64s("secret"), &r), SASL_OK);
	assert_string_equal(r.user, "alice@example.org");
	sasl_free(&s);

	/* user name as the initial response */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "login", b64s("alice@example.org"),
	    &r), SASL_CONTINUE);
	assert_string_equal(r.challenge, "UGFzc3dvcmQ6");
	assert_int_equal(step(s, b64s("wrong"), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	sasl_free(&s);

	/* empty user or password */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "LOGIN", NULL, &r), SASL_CONTINUE);
	assert_int_equal(step(s, "", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "LOGIN", b64s("alice@example.org"),
	    &r), SASL_CONTINUE);
	assert_int_equal(step(s, "", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
}

static void
test_cancel(void **state)
{
	static const char *const mechs[] = {
		"PLAIN", "LOGIN", "SCRAM-SHA-256",
	};
	struct sasl_session *s;
	struct sasl_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		s = new_session(SASL_F_TLS, false);
		assert_int_equal(sasl_start(s, mechs[i], NULL, &r),
		    SASL_CONTINUE);
		assert_int_equal(step(s, "*", &r), SASL_FAIL);
		expect_fail(&r, SASL_FAIL_CANCELLED);
		sasl_free(&s);
	}
	/* in the middle of LOGIN */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "LOGIN", b64s("alice@example.org"),
	    &r), SASL_CONTINUE);
	assert_int_equal(step(s, "*", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_CANCELLED);
	sasl_free(&s);
	/* "*" is not an initial response */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", "*", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	assert_int_equal(fake.calls, 0);
}

/*
 * SCRAM
 */

/* The client side of SCRAM, for the tests. */
static void
client_final(const char *password, const char *cfirst_bare,
    const char *sfirst, const void *cbind_input, size_t cbind_len,
    char *out, size_t outlen, char *server_sig_b64, size_t siglen)
{
	uint8_t salt[SCRAM_SALT_MAX], sig[SCRAM_KEY_LEN], proof[SCRAM_KEY_LEN];
	uint8_t salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN];
	uint8_t skey[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	char nonce[512], saltb64[128], wp[1024], am[4096];
	const char *p, *q;
	unsigned iter;
	size_t saltlen, i;

	/* r=<nonce>,s=<salt>,i=<iter> */
	assert_int_equal(strncmp(sfirst, "r=", 2), 0);
	p = strchr(sfirst, ',');
	assert_non_null(p);
	snprintf(nonce, sizeof(nonce), "%.*s", (int)(p - sfirst - 2),
	    sfirst + 2);
	assert_int_equal(strncmp(p, ",s=", 3), 0);
	q = strchr(p + 1, ',');
	assert_non_null(q);
	snprintf(saltb64, sizeof(saltb64), "%.*s", (int)(q - p - 3), p + 3);
	assert_int_equal(sscanf(q, ",i=%u", &iter), 1);
	assert_int_equal(scram_b64_decode(saltb64, strlen(saltb64), salt,
	    sizeof(salt), &saltlen), 0);

	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
	    salt, (int)saltlen, (int)iter, EVP_sha256(), 32, salted), 1);
	assert_int_equal(scram_hmac(salted, 32, "Client Key", 10, ckey), 0);
	assert_int_equal(scram_hash(ckey, 32, stored), 0);
	assert_int_equal(scram_hmac(salted, 32, "Server Key", 10, skey), 0);
	assert_true(snprintf(wp, sizeof(wp), "c=%s,r=%s",
	    b64(cbind_input, cbind_len), nonce) < (int)sizeof(wp));
	assert_true(snprintf(am, sizeof(am), "%s,%s,%s", cfirst_bare, sfirst,
	    wp) < (int)sizeof(am));
	assert_int_equal(scram_hmac(stored, 32, am, strlen(am), sig), 0);
	for (i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ sig[i];
	assert_true(snprintf(out, outlen, "%s,p=%s", wp, b64(proof, 32)) <
	    (int)outlen);
	assert_int_equal(scram_hmac(skey, 32, am, strlen(am), sig), 0);
	assert_true(snprintf(server_sig_b64, siglen, "v=%s", b64(sig, 32)) <
	    (int)siglen);
}

/* Run a SCRAM exchange up to the server-first message. Returns the
 * session; *sfirst_r is the decoded server-first (static). */
static struct sasl_session *
scram_begin(const char *mech, unsigned flags, bool with_cbind,
    const char *cfirst, struct sasl_reply *r, const char **sfirst_r)
{
	struct sasl_session *s = new_session(flags, with_cbind);

	sasl_test_set_nonce(s, RFC_SNONCE);
	*sfirst_r = NULL;
	if (sasl_start(s, mech, b64s(cfirst), r) == SASL_CONTINUE)
		*sfirst_r = unb64(r->challenge);
	return s;
}

static void
test_scram_rfc7677_vector(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;

	(void)state;
	/* initial response */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false, RFC_CFIRST, &r,
	    &sfirst);
	assert_int_equal(r.status, SASL_CONTINUE);
	assert_string_equal(sfirst, RFC_SFIRST);
	assert_int_equal(step(s, b64s(RFC_CFINAL), &r), SASL_CONTINUE);
	assert_string_equal(unb64(r.challenge), RFC_SFINAL);
	assert_int_equal(step(s, "", &r), SASL_OK);
	assert_string_equal(r.user, "user");
	assert_null(r.challenge);
	sasl_free(&s);

	/* no initial response: empty challenge, then client-first */
	s = new_session(SASL_F_TLS, false);
	sasl_test_set_nonce(s, RFC_SNONCE);
	assert_int_equal(sasl_start(s, "scram-sha-256", NULL, &r),
	    SASL_CONTINUE);
	assert_string_equal(r.challenge, "");
	assert_int_equal(step(s, b64s(RFC_CFIRST), &r), SASL_CONTINUE);
	assert_string_equal(unb64(r.challenge), RFC_SFIRST);
	assert_int_equal(step(s, b64s(RFC_CFINAL), &r), SASL_CONTINUE);
	assert_string_equal(unb64(r.challenge), RFC_SFINAL);
	/* anything but the empty response after server-final fails */
	assert_int_equal(step(s, b64s("x"), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);

	/* a protocol that carries data with success */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS | SASL_F_SUCCESS_DATA,
	    false, RFC_CFIRST, &r, &sfirst);
	assert_int_equal(step(s, b64s(RFC_CFINAL), &r), SASL_OK);
	assert_string_equal(unb64(r.challenge), RFC_SFINAL);
	assert_string_equal(r.user, "user");
	sasl_free(&s);
}

static void
test_scram_random_nonce(void **state)
{
	struct sasl_session *s = new_session(SASL_F_TLS, false);
	struct sasl_reply r;
	const char *sf;

	(void)state;
	assert_int_equal(sasl_start(s, "SCRAM-SHA-256", b64s(RFC_CFIRST),
	    &r), SASL_CONTINUE);
	sf = unb64(r.challenge);
	assert_int_equal(strncmp(sf, "r=" RFC_CNONCE, 22), 0);
	assert_true(strlen(strchr(sf, ',')) == strlen(",s=" RFC_SALT
	    ",i=4096"));
	assert_true(strchr(sf, ',') - sf - 22 == 24);
	sasl_free(&s);
}

static void
test_scram_wrong_password(void **state)
{
	char final[1024], v[128];
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;

	(void)state;
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=alice@example.org,r=abcdef", &r, &sfirst);
	assert_non_null(sfirst);
	client_final("secret", "n=alice@example.org,r=abcdef", sfirst,
	    "n,,", 3, final, sizeof(final), v, sizeof(v));
	assert_int_equal(step(s, b64s(final), &r), SASL_CONTINUE);
	assert_string_equal(unb64(r.challenge), v);
	assert_int_equal(step(s, "", &r), SASL_OK);
	sasl_free(&s);

	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=alice@example.org,r=abcdef", &r, &sfirst);
	client_final("Secret", "n=alice@example.org,r=abcdef", sfirst,
	    "n,,", 3, final, sizeof(final), v, sizeof(v));
	assert_int_equal(step(s, b64s(final), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	assert_string_equal(r.user, "alice@example.org");
	sasl_free(&s);
}

static void
test_scram_unknown_and_disabled_user(void **state)
{
	char final[1024], v[128], sf1[512];
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;

	(void)state;
	/* an unknown user gets a stable, plausible salt */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=nobody@example.org,r=abc", &r, &sfirst);
	assert_int_equal(r.status, SASL_CONTINUE);
	snprintf(sf1, sizeof(sf1), "%s", sfirst);
	assert_non_null(strstr(sf1, ",i=4096"));
	client_final("secret", "n=nobody@example.org,r=abc", sf1, "n,,", 3,
	    final, sizeof(final), v, sizeof(v));
	assert_int_equal(step(s, b64s(final), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_CREDENTIALS);
	sasl_free(&s);
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=nobody@example.org,r=abc", &r, &sfirst);
	assert_string_equal(sfirst, sf1);
	sasl_free(&s);

	/* disabled: only after a correct proof */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=off@example.org,r=abc", &r, &sfirst);
	client_final("secret", "n=off@example.org,r=abc", sfirst, "n,,", 3,
	    final, sizeof(final), v, sizeof(v));
	assert_int_equal(step(s, b64s(final), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_DISABLED);
	sasl_free(&s);

	fake.tempfail = true;
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false, RFC_CFIRST, &r,
	    &sfirst);
	expect_fail(&r, SASL_FAIL_TEMP);
	sasl_free(&s);
}

static void
test_scram_tampered(void **state)
{
	static const char *const finals[] = {
		/* proof changed */
		"c=biws,r=" RFC_CNONCE RFC_SNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
		/* nonce changed */
		"c=biws,r=" RFC_CNONCE "x" RFC_SNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* nonce truncated */
		"c=biws,r=" RFC_CNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* channel binding header changed ("y,,") */
		"c=eSws,r=" RFC_CNONCE RFC_SNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* proof too short */
		"c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=dHzbZapW",
		/* no proof */
		"c=biws,r=" RFC_CNONCE RFC_SNONCE,
		/* proof not last */
		"c=biws,r=" RFC_CNONCE RFC_SNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
		/* extension inserted: changes AuthMessage */
		"c=biws,r=" RFC_CNONCE RFC_SNONCE
		    ",x=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		/* no c= */
		"r=" RFC_CNONCE RFC_SNONCE
		    ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"",
	};
	static const enum sasl_fail want[] = {
		SASL_FAIL_CREDENTIALS, SASL_FAIL_MALFORMED,
		SASL_FAIL_MALFORMED, SASL_FAIL_CBIND, SASL_FAIL_MALFORMED,
		SASL_FAIL_MALFORMED, SASL_FAIL_MALFORMED,
		SASL_FAIL_CREDENTIALS, SASL_FAIL_MALFORMED,
		SASL_FAIL_MALFORMED,
	};
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
		    RFC_CFIRST, &r, &sfirst);
		assert_int_equal(r.status, SASL_CONTINUE);
		assert_int_equal(step(s, b64s(finals[i]), &r), SASL_FAIL);
		if (r.fail != want[i])
			fail_msg("case %zu: %s (%s)", i,
			    sasl_fail_name(r.fail), r.reason);
		sasl_free(&s);
	}
}

static void
test_scram_client_first_malformed(void **state)
{
	static const struct {
		const char	*msg;
		enum sasl_fail	 fail;
	} cases[] = {
		{ "", SASL_FAIL_MALFORMED },
		{ "n,", SASL_FAIL_MALFORMED },
		{ "x,,n=user,r=abc", SASL_FAIL_MALFORMED },
		{ "n,n=user,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,m=ext,n=user,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=us=2Xer,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=user=,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=user", SASL_FAIL_MALFORMED },
		{ "n,,n=user,r=", SASL_FAIL_MALFORMED },
		{ "n,,n=user,x=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=user,r=a\x7f", SASL_FAIL_MALFORMED },
		{ "n,,r=abc,n=user", SASL_FAIL_MALFORMED },
		{ "n,b=x,n=user,r=abc", SASL_FAIL_MALFORMED },
		{ "n,,n=us\x01r,r=abc", SASL_FAIL_MALFORMED },
		/* authzid must equal the user */
		{ "n,a=other,n=user,r=abc", SASL_FAIL_AUTHZ },
	};
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;
	char nonce[SASL_NONCE_MAX + 32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = new_session(SASL_F_TLS, false);
		if (cases[i].msg[0] == '\0')
			assert_int_equal(sasl_start(s, "SCRAM-SHA-256", "=",
			    &r), SASL_FAIL);
		else
			assert_int_equal(sasl_start(s, "SCRAM-SHA-256",
			    b64s(cases[i].msg), &r), SASL_FAIL);
		if (r.fail != cases[i].fail)
			fail_msg("case %zu: %s (%s)", i,
			    sasl_fail_name(r.fail), r.reason);
		sasl_free(&s);
	}
	/* a NUL inside */
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "SCRAM-SHA-256",
	    b64("n,,n=us\0er,r=abc", 16), &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);

	/* an over-long client nonce */
	memcpy(nonce, "n,,n=user,r=", 12);
	memset(nonce + 12, 'x', SASL_NONCE_MAX + 1);
	nonce[12 + SASL_NONCE_MAX + 1] = '\0';
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "SCRAM-SHA-256", b64s(nonce), &r),
	    SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);

	/* authzid equal to the user, "=2C"/"=3D" escapes, extensions */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,a=user,n=user,r=abc,x=ext", &r, &sfirst);
	assert_int_equal(r.status, SASL_CONTINUE);
	sasl_free(&s);
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "n,,n=a=2Cb=3Dc,r=abc", &r, &sfirst);
	assert_int_equal(r.status, SASL_CONTINUE);
	assert_string_equal(fake.last, "a,b=c");
	sasl_free(&s);
}

static void
test_scram_bad_cbind_flags(void **state)
{
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sf;

	(void)state;
	/* "y" while we offer PLUS: a downgrade */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, true,
	    "y,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_CBIND);
	sasl_free(&s);
	/* "y" when we do not offer PLUS (no binding data, or no TLS) */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, false,
	    "y,,n=user,r=abc", &r, &sf);
	assert_int_equal(r.status, SASL_CONTINUE);
	sasl_free(&s);
	s = scram_begin("SCRAM-SHA-256", SASL_F_PLAINTEXT_OK, true,
	    "y,,n=user,r=abc", &r, &sf);
	assert_int_equal(r.status, SASL_CONTINUE);
	sasl_free(&s);
	/* "p" with the plain mechanism */
	s = scram_begin("SCRAM-SHA-256", SASL_F_TLS, true,
	    "p=tls-exporter,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_CBIND);
	sasl_free(&s);
	/* "n" or "y" with PLUS */
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_TLS, true,
	    "n,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_CBIND);
	sasl_free(&s);
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_TLS, true,
	    "y,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_CBIND);
	sasl_free(&s);
	/* unknown binding type */
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_TLS, true,
	    "p=tls-unique,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_CBIND);
	sasl_free(&s);
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_TLS, true,
	    "p=tls-exporter", &r, &sf);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	/* PLUS needs TLS */
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_PLAINTEXT_OK, true,
	    "p=tls-exporter,,n=user,r=abc", &r, &sf);
	expect_fail(&r, SASL_FAIL_UNKNOWN_MECH);
	sasl_free(&s);
	assert_int_equal(fake.calls, 2);
}

static void
plus_exchange(const char *type, const uint8_t *data, size_t len,
    const uint8_t *client_data, size_t client_len, bool expect_ok)
{
	char cfirst[128], bare[64], final[1024], v[128];
	uint8_t input[256];
	struct sasl_session *s;
	struct sasl_reply r;
	const char *sfirst;
	size_t gs2;

	(void)data;
	(void)len;
	snprintf(bare, sizeof(bare), "n=user,r=plusnonce");
	snprintf(cfirst, sizeof(cfirst), "p=%s,,%s", type, bare);
	s = scram_begin("SCRAM-SHA-256-PLUS", SASL_F_TLS, true, cfirst, &r,
	    &sfirst);
	assert_int_equal(r.status, SASL_CONTINUE);
	gs2 = strlen(type) + 4;
	memcpy(input, cfirst, gs2);
	if (client_len > 0)
		memcpy(input + gs2, client_data, client_len);
	client_final(RFC_PASS, bare, sfirst, input, gs2 + client_len, final,
	    sizeof(final), v, sizeof(v));
	if (expect_ok) {
		assert_int_equal(step(s, b64s(final), &r), SASL_CONTINUE);
		assert_string_equal(unb64(r.challenge), v);
		assert_int_equal(step(s, "", &r), SASL_OK);
		assert_string_equal(r.user, "user");
	} else {
		assert_int_equal(step(s, b64s(final), &r), SASL_FAIL);
		expect_fail(&r, SASL_FAIL_CBIND);
	}
	sasl_free(&s);
}

static void
test_scram_plus(void **state)
{
	uint8_t other[32];

	(void)state;
	memcpy(other, cbind.exporter, 32);
	other[31] ^= 1;
	plus_exchange("tls-exporter", cbind.exporter, 32, cbind.exporter, 32,
	    true);
	plus_exchange("tls-server-end-point", cbind.endpoint, 32,
	    cbind.endpoint, 32, true);
	/* mismatched data, wrong type's data, missing data */
	plus_exchange("tls-exporter", cbind.exporter, 32, other, 32, false);
	plus_exchange("tls-exporter", cbind.exporter, 32, cbind.endpoint, 32,
	    false);
	plus_exchange("tls-server-end-point", cbind.endpoint, 32,
	    cbind.exporter, 32, false);
	plus_exchange("tls-exporter", cbind.exporter, 32, cbind.exporter, 31,
	    false);
	plus_exchange("tls-exporter", cbind.exporter, 32, NULL, 0, false);
}

static void
test_step_without_start(void **state)
{
	struct sasl_session *s = new_session(SASL_F_TLS, false);
	struct sasl_reply r;

	(void)state;
	assert_int_equal(step(s, "", &r), SASL_FAIL);
	expect_fail(&r, SASL_FAIL_MALFORMED);
	sasl_free(&s);
	s = new_session(SASL_F_TLS, false);
	assert_int_equal(sasl_start(s, "PLAIN", NULL, &r), SASL_CONTINUE);
	assert_int_equal(sasl_start(s, "PLAIN", NULL, &r), SASL_FAIL);
	sasl_free(&s);
}

static void
test_fail_mapping(void **state)
{
	const char *enh, *text, *res, *code;
	int smtp;

	(void)state;
	sasl_fail_smtp(SASL_FAIL_MALFORMED, &smtp, &enh, &text);
	assert_int_equal(smtp, 501);
	assert_string_equal(enh, "5.5.2");
	sasl_fail_smtp(SASL_FAIL_CREDENTIALS, &smtp, &enh, &text);
	assert_int_equal(smtp, 535);
	assert_string_equal(enh, "5.7.8");
	sasl_fail_smtp(SASL_FAIL_TEMP, &smtp, &enh, &text);
	assert_int_equal(smtp, 454);
	sasl_fail_smtp(SASL_FAIL_ENCRYPT, &smtp, &enh, &text);
	assert_int_equal(smtp, 538);
	sasl_fail_smtp(SASL_FAIL_TOO_LONG, &smtp, &enh, &text);
	assert_int_equal(smtp, 500);
	sasl_fail_smtp(SASL_FAIL_UNKNOWN_MECH, &smtp, &enh, &text);
	assert_int_equal(smtp, 504);
	sasl_fail_imap(SASL_FAIL_CANCELLED, &res, &code);
	assert_string_equal(res, "BAD");
	sasl_fail_imap(SASL_FAIL_AUTHZ, &res, &code);
	assert_string_equal(res, "NO");
	assert_string_equal(code, "AUTHORIZATIONFAILED");
	assert_string_equal(sasl_fail_name(SASL_FAIL_TEMP), "temp");
	assert_string_equal(sasl_fail_name((enum sasl_fail)99), "temp");
}

#define T(name) cmocka_unit_test_setup(name, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_b64_strict),
		T(test_scram_derive_parse_roundtrip),
		T(test_scram_parse_rejects),
		T(test_mechanisms),
		T(test_unknown_mech_and_tls_required),
		T(test_plain_good),
		T(test_plain_bad_credentials),
		T(test_plain_authzid_mismatch),
		T(test_plain_malformed),
		T(test_plain_oversize),
		T(test_login_flow),
		T(test_cancel),
		T(test_scram_rfc7677_vector),
		T(test_scram_random_nonce),
		T(test_scram_wrong_password),
		T(test_scram_unknown_and_disabled_user),
		T(test_scram_tampered),
		T(test_scram_client_first_malformed),
		T(test_scram_bad_cbind_flags),
		T(test_scram_plus),
		T(test_step_without_start),
		T(test_fail_mapping),
	};

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
