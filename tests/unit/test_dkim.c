/* test_dkim: DKIM canonicalization (the RFC 6376 3.4.5 examples, whole
 * and byte at a time), the RFC 8463 appendix A message with its two key
 * records, the tag=value parsers, sign-then-verify round trips with the
 * failure reasons (tampered header and body, over-signed fields, l=,
 * rsa-sha1, small keys, key record flags, t= and x=, i=) and the
 * Authentication-Results text. Keys come from the pure core API: no DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "authn/dkim_private.h"
#include "buf.h"
#include "dkim.h"
#include "dkim_canon_ref.h"

/* A string literal and its length. */
#define S(lit)	(lit), strlen(lit)

/*
 * Canonicalization
 */

static const char canon_msg_hdr[] =
    "A: X\r\n"
    "B : Y\t\r\n"
    "\tZ  \r\n";
static const char canon_msg_body[] =
    " C \r\n"
    "D \t E\r\n"
    "\r\n"
    "\r\n";

static void
canon_fields(enum dkim_canon c, struct buf *out)
{
	struct dkim_msg m;
	size_t i;

	dkim_msg_init(&m, NULL, NULL);
	dkim_msg_feed(&m, (const uint8_t *)canon_msg_hdr,
	    strlen(canon_msg_hdr));
	dkim_msg_split(&m);
	assert_int_equal(m.nfields, 2);
	for (i = 0; i < m.nfields; i++)
		assert_int_equal(dkim_canon_header(c,
		    (const char *)m.hdr.data + m.fields[i].off,
		    m.fields[i].len, true, out), 0);
	dkim_msg_deinit(&m);
}

static void
test_canon_header_vectors(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	canon_fields(DKIM_CANON_RELAXED, &out);
	assert_int_equal(out.len, strlen("a:X\r\nb:Y Z\r\n"));
	assert_memory_equal(out.data, "a:X\r\nb:Y Z\r\n", out.len);
	buf_reset(&out);
	canon_fields(DKIM_CANON_SIMPLE, &out);
	assert_int_equal(out.len, strlen(canon_msg_hdr));
	assert_memory_equal(out.data, canon_msg_hdr, out.len);
	buf_deinit(&out);
}

/* SHA-256 of the canonical body of text, fed in chunks of step octets
 * (0: all at once), with l= limit when has_limit. */
static void
body_hash(enum dkim_canon c, const char *text, size_t len, size_t step,
    bool has_limit, uint64_t limit, uint8_t md[32], uint64_t *total_r)
{
	struct dkim_body b;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int mdlen;
	size_t off, n;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	dkim_body_init(&b, c, ctx, has_limit, limit);
	for (off = 0; off < len; off += n) {
		n = step == 0 ? len - off : step;
		if (n > len - off)
			n = len - off;
		dkim_body_feed(&b, (const uint8_t *)text + off, n);
	}
	assert_int_equal(dkim_body_end(&b), 0);
	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	if (total_r != NULL)
		*total_r = b.total;
}

static void
sha256(const char *s, size_t len, uint8_t md[32])
{
	unsigned int n;

	assert_int_equal(EVP_Digest(s, len, md, &n, EVP_sha256(), NULL), 1);
}

static void
check_body(enum dkim_canon c, const char *in, size_t inlen,
    const char *expect, size_t explen)
{
	uint8_t want[32], got[32];
	uint64_t total;
	size_t step;

	sha256(expect, explen, want);
	for (step = 0; step <= 3; step++) {
		body_hash(c, in, inlen, step, false, 0, got, &total);
		assert_memory_equal(got, want, 32);
		assert_int_equal(total, explen);
	}
}

static void
test_canon_body_vectors(void **state)
{
	static const struct {
		enum dkim_canon	 c;
		const char	*in;
		const char	*out;
	} cases[] = {
		/* RFC 6376 3.4.5 */
		{ DKIM_CANON_RELAXED, canon_msg_body, " C\r\nD E\r\n" },
		{ DKIM_CANON_SIMPLE, canon_msg_body, " C \r\nD \t E\r\n" },
		/* empty bodies (3.4.3, 3.4.4) */
		{ DKIM_CANON_SIMPLE, "", "\r\n" },
		{ DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n" },
		{ DKIM_CANON_RELAXED, "", "" },
		{ DKIM_CANON_RELAXED, " \t\r\n \r\n", "" },
		/* no final CRLF */
		{ DKIM_CANON_SIMPLE, "abc", "abc\r\n" },
		{ DKIM_CANON_RELAXED, "abc  ", "abc\r\n" },
		/* inner empty lines kept, trailing ones not */
		{ DKIM_CANON_SIMPLE, "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n" },
		{ DKIM_CANON_RELAXED, "a \r\n \r\n\tb\t\r\n\r\n",
		    "a\r\n\r\n b\r\n" },
		/* bare CR and LF are content */
		{ DKIM_CANON_SIMPLE, "a\rb\nc\r\n", "a\rb\nc\r\n" },
		{ DKIM_CANON_RELAXED, "a \r b\r", "a \r b\r\r\n" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_body(cases[i].c, cases[i].in, strlen(cases[i].in),
		    cases[i].out, strlen(cases[i].out));
}

static void
test_canon_body_empty_hashes(void **state)
{
	uint8_t md[32], dec[64];
	long n;

	(void)state;
	body_hash(DKIM_CANON_SIMPLE, "", 0, 0, false, 0, md, NULL);
	n = dkim_base64_decode("frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=",
	    44, dec, sizeof(dec));
	assert_int_equal(n, 32);
	assert_memory_equal(md, dec, 32);
	body_hash(DKIM_CANON_RELAXED, "", 0, 0, false, 0, md, NULL);
	n = dkim_base64_decode("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
	    44, dec, sizeof(dec));
	assert_int_equal(n, 32);
	assert_memory_equal(md, dec, 32);
}

static void
test_canon_body_limit(void **state)
{
	uint8_t want[32], got[32];
	uint64_t total;

	(void)state;
	/* l=3 of "abc\r\ndef\r\n": "abc" hashed, 10 produced */
	sha256("abc", 3, want);
	body_hash(DKIM_CANON_SIMPLE, "abc\r\ndef\r\n", 10, 1, true, 3, got,
	    &total);
	assert_memory_equal(got, want, 32);
	assert_int_equal(total, 10);
}

/* Bodies drawn from the octets that matter to canonicalization, in
 * runs (a WSP run can span a 16-octet block, lines end in CRLF, bare CR
 * and LF, long lines and short), canonicalized whole and in uneven
 * chunks, with and without l=: each must match the line-by-line model
 * of dkim_canon_ref.c. */
#define MODEL_BODIES	20000
#define MODEL_LEN_MAX	400

static uint32_t
model_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t
model_body(uint32_t *seed, char *out, size_t max)
{
	static const char *const pieces[] = {
		"a", "word", "Line of text", " ", "  ", "   ", "\t", " \t ",
		"\r\n", "\r\n", "\r\n\r\n", "\r", "\n", "\r\r\n", " \r\n",
		"\t\r\n", "0123456789abcdef", "                 ",
	};
	size_t len = 0, want = model_rand(seed) % max, k;

	while (len < want) {
		const char *pc = pieces[model_rand(seed) %
		    (sizeof(pieces) / sizeof(pieces[0]))];

		k = strlen(pc);
		if (k > max - len)
			k = max - len;
		memcpy(out + len, pc, k);
		len += k;
	}
	return len;
}

static void
test_canon_body_model(void **state)
{
	char body[MODEL_LEN_MAX];
	uint8_t want[32], got[32];
	uint32_t seed = 0x6d6f6174;
	uint64_t total, limit;
	size_t i, len, rlen, step;
	uint8_t *ref;
	int c;

	(void)state;
	for (i = 0; i < MODEL_BODIES; i++) {
		len = model_body(&seed, body, sizeof(body));
		step = i % 3 == 0 ? 0 : 1 + model_rand(&seed) % 40;
		for (c = DKIM_CANON_SIMPLE; c <= DKIM_CANON_RELAXED; c++) {
			ref = dkim_canon_body_ref(c, (const uint8_t *)body, len,
			    &rlen);
			sha256((const char *)ref, rlen, want);
			body_hash(c, body, len, step, false, 0, got, &total);
			if (memcmp(got, want, 32) != 0 || total != rlen)
				fail_msg("body %zu (%s, step %zu) differs from "
				    "the model", i, c == DKIM_CANON_SIMPLE ?
				    "simple" : "relaxed", step);
			/* l= cuts the same canonical octets */
			limit = model_rand(&seed) % (rlen + 1);
			sha256((const char *)ref, (size_t)limit, want);
			body_hash(c, body, len, step, true, limit, got, &total);
			assert_memory_equal(got, want, 32);
			free(ref);
		}
	}
}

/*
 * Tag parsers
 */

static void
test_tags_parse(void **state)
{
	static const struct {
		const char	*in;
		int		 ntags;
	} cases[] = {
		{ "", 0 },
		{ "a=1", 1 },
		{ "a=1;", 1 },
		{ " a = 1 ; b=2 ;  ", 2 },
		{ "a=;b=", 2 },
		{ "a=1 2\r\n 3; b_2=x", 2 },
		{ "a=1;;b=2", -1 },	/* empty tag-spec */
		{ ";", -1 },
		{ "a=1; a=2", -1 },	/* duplicate */
		{ "1a=1", -1 },
		{ "a", -1 },
		{ "a 1=2", -1 },
		{ "a=b;c", -1 },
		{ "a=x\r\ny", -1 },	/* CRLF not followed by WSP */
		{ "a=\x01", -1 },
		{ "a=\x80", -1 },
	};
	struct dkim_tag tags[DKIM_TAGS_MAX];
	const char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = dkim_tags_parse(cases[i].in, strlen(cases[i].in),
		    tags, DKIM_TAGS_MAX, &error);

		if (n != cases[i].ntags)
			fail_msg("case %zu \"%s\": %d tags, want %d", i,
			    cases[i].in, n, cases[i].ntags);
	}
	assert_int_equal(dkim_tags_parse(" a = 1 2 ; b=2", 14, tags,
	    DKIM_TAGS_MAX, &error), 2);
	assert_int_equal(tags[0].value.len, 3);
	assert_memory_equal(tags[0].value.p, "1 2", 3);
	assert_int_equal(dkim_tags_parse("a=1;b=2;c=3", 11, tags, 2, &error),
	    -1);
}

static void
test_key_parse(void **state)
{
	struct dkim_key key;
	const char *error;

	(void)state;
	assert_int_equal(dkim_key_parse(S("v=DKIM1; k=ed25519; "
	    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="), &key,
	    &error), 0);
	assert_int_equal(key.type, DKIM_KEY_ED25519);
	assert_int_equal(key.plen, 32);
	assert_true(key.service_email);
	assert_true(key.hash_sha256);
	assert_int_equal(dkim_key_parse(S("p="), &key, &error), 0);
	assert_true(key.revoked);
	assert_int_equal(dkim_key_parse(S("k=rsa; t=y:s; s=email; h=sha1 : "
	    "sha256; p=AAAA"), &key, &error), 0);
	assert_true(key.testing);
	assert_true(key.strict);
	assert_true(key.hash_sha1 && key.hash_sha256);
	assert_int_equal(dkim_key_parse(S("k=rsa; s=other; p=AAAA"), &key,
	    &error), 0);
	assert_false(key.service_email);
	/* v= must come first and be DKIM1 */
	assert_int_equal(dkim_key_parse(S("k=rsa; v=DKIM1; p=AAAA"), &key,
	    &error), -1);
	assert_int_equal(dkim_key_parse(S("v=DKIM2; p=AAAA"), &key, &error),
	    -1);
	assert_int_equal(dkim_key_parse(S("v=DKIM1; k=dsa; p=AAAA"), &key,
	    &error), -1);
	assert_int_equal(dkim_key_parse(S("v=DKIM1"), &key, &error), -1);
	assert_int_equal(dkim_key_parse(S("p=AAA"), &key, &error), -1);
	assert_int_equal(dkim_key_parse(S("p=A=AA"), &key, &error), -1);
}

static void
test_base64(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(dkim_base64_decode("aGVs bG8=", 9, out, 16), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(dkim_base64_decode("aGVsbA==", 8, out, 16), 4);
	assert_int_equal(dkim_base64_decode("aGVsbA=", 7, out, 16), -1);
	assert_int_equal(dkim_base64_decode("aGVsbA===", 9, out, 16), -1);
	assert_int_equal(dkim_base64_decode("aG=VsbA=", 8, out, 16), -1);
	assert_int_equal(dkim_base64_decode("aGVsbG8=", 8, out, 4), -1);
	assert_int_equal(dkim_base64_decode("aGVsbH==", 8, out, 16), -1);
}

static void
test_sig_parse(void **state)
{
	static const struct {
		const char	*in;
		const char	*error;	/* NULL: parses */
	} cases[] = {
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from:to; "
		    "bh=AAAA; b=AAAA", NULL },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=to; "
		    "bh=AAAA; b=AAAA", "From field not signed" },
		{ "v=2; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA", "unsupported signature version" },
		{ "v=1; a=rsa-md5; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA", "unknown signature algorithm" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "b=AAAA", "missing required tag" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; i=@evil.example", "i= not within d= domain" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; i=a@sub.example.org", NULL },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; i=a@badexample.org",
		    "i= not within d= domain" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; t=20; x=10", "x= before t=" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; t=1234567890123", "bad t= value" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; l=99999999999999999999999",
		    "bad l= value" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; c=relaxed/fancy", "bad c= value" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA; q=http", "unsupported query method" },
		{ "v=1; a=rsa-sha256; d=example..org; s=sel; h=from; "
		    "bh=AAAA; b=AAAA", "bad d= domain" },
		{ "v=1; a=rsa-sha256; d=example.org; s=s/l; h=from; "
		    "bh=AAAA; b=AAAA", "bad s= selector" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from::to; "
		    "bh=AAAA; b=AAAA", "bad or too long h= list" },
		{ "v=1; a=rsa-sha256; d=example.org; s=sel; h=from; "
		    "bh=AA; b=AAAA", "bad bh= value" },
	};
	struct dkim_sig *sig = malloc(sizeof(*sig));
	const char *error;
	size_t i;
	int r;

	(void)state;
	assert_non_null(sig);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		r = dkim_sig_parse(cases[i].in, strlen(cases[i].in), sig,
		    &error);
		if (cases[i].error == NULL) {
			if (r != 0)
				fail_msg("case %zu: %s", i, error);
		} else if (r == 0 || strcmp(error, cases[i].error) != 0)
			fail_msg("case %zu: got %s, want %s", i,
			    r == 0 ? "success" : error, cases[i].error);
	}
	/* c=relaxed alone means relaxed/simple; h= FWS; d= lower-cased */
	assert_int_equal(dkim_sig_parse(S("v=1; a=ed25519-sha256; c=relaxed; "
	    "d=Example.ORG; s=sel; h=From : To\r\n :subject; bh=AAAA; "
	    "b=AB CD"), sig, &error), 0);
	assert_int_equal(sig->hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(sig->bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(sig->domain, "example.org");
	assert_int_equal(sig->nhdrs, 3);
	assert_memory_equal(sig->hdrs[2].p, "subject", 7);
	assert_string_equal(sig->b_prefix, "ABCD");
	free(sig);
}

static void
test_sig_parse_h_limit(void **state)
{
	struct dkim_sig *sig = malloc(sizeof(*sig));
	struct buf b;
	const char *s, *error;
	size_t i;

	(void)state;
	assert_non_null(sig);
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "v=1; a=rsa-sha256; d=e.org; "
	    "s=s; bh=AAAA; b=AAAA; h=from"), 0);
	for (i = 0; i < DKIM_H_ITEMS_MAX; i++)
		assert_int_equal(buf_append_str(&b, ":x"), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_int_equal(dkim_sig_parse(s, b.len, sig, &error), -1);
	assert_string_equal(error, "bad or too long h= list");
	buf_deinit(&b);
	free(sig);
}

/*
 * RFC 8463 appendix A
 */

static const char rfc8463_msg[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n"
    "\r\n";

static const char rfc8463_ed_key[] =
    "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_rsa_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* Verify msg fed in chunks of step (0: whole), giving each signature the
 * key record keys[i] (NULL: leave it). */
static struct dkim_verify *
verify(const char *msg, size_t len, size_t step, const char *const *keys,
    size_t nkeys, time_t now)
{
	struct dkim_verify_opts opts = { .now = now };
	struct dkim_verify *v = dkim_verify_new(&opts);
	size_t off, n, i;
	char name[256];

	for (off = 0; off < len; off += n) {
		n = step == 0 ? len - off : step;
		if (n > len - off)
			n = len - off;
		dkim_verify_feed(v, msg + off, n);
	}
	(void)dkim_verify_end(v);
	for (i = 0; i < nkeys && i < dkim_verify_count(v); i++)
		if (keys[i] != NULL &&
		    dkim_verify_key_name(v, i, name, sizeof(name)) == 0)
			dkim_verify_set_key(v, i, keys[i], strlen(keys[i]));
	return v;
}

static void
test_rfc8463_example(void **state)
{
	const char *keys[] = { rfc8463_ed_key, rfc8463_rsa_key };
	const struct dkim_result *r;
	struct dkim_verify *v;
	char name[256];
	size_t step;

	(void)state;
	for (step = 0; step < 3; step++) {
		v = verify(rfc8463_msg, strlen(rfc8463_msg), step * 7, keys, 0,
		    0);
		assert_int_equal(dkim_verify_count(v), 2);
		assert_int_equal(dkim_verify_key_name(v, 0, name,
		    sizeof(name)), 0);
		assert_string_equal(name,
		    "brisbane._domainkey.football.example.com");
		dkim_verify_set_key(v, 0, keys[0], strlen(keys[0]));
		dkim_verify_set_key(v, 1, keys[1], strlen(keys[1]));
		r = dkim_verify_result(v, 0);
		assert_string_equal(dkim_status_name(r->status), "pass");
		assert_string_equal(r->domain, "football.example.com");
		assert_string_equal(r->selector, "brisbane");
		assert_string_equal(r->algorithm, "ed25519-sha256");
		assert_string_equal(r->b, "/gCrinpc");
		r = dkim_verify_result(v, 1);
		assert_string_equal(dkim_status_name(r->status), "pass");
		assert_int_equal(r->key_bits, 1024);
		dkim_verify_free(&v);
		assert_null(v);
	}
	/* The keys swapped: wrong key type. */
	keys[0] = rfc8463_rsa_key;
	v = verify(rfc8463_msg, strlen(rfc8463_msg), 0, keys, 1, 0);
	r = dkim_verify_result(v, 0);
	assert_int_equal(r->status, DKIM_PERMERROR);
	assert_string_equal(r->reason, "key type does not match a=");
	dkim_verify_free(&v);
}

/*
 * Round trips with our signer
 */

static const char test_msg[] =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Lunch\r\n"
    "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "Received: from somewhere\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n"
    "  Alice  \r\n";

struct keys {
	char		*rsa_pem;
	char		*ed_pem;
	char		 rsa_rec[1024];
	char		 ed_rec[128];
	struct dkim_signer *rsa;
	struct dkim_signer *ed;
};

static int
keys_setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));
	const char *error, *s;
	struct buf b;

	assert_non_null(k);
	assert_int_equal(dkim_keygen(DKIM_KEY_RSA, &k->rsa_pem, &error), 0);
	assert_int_equal(dkim_keygen(DKIM_KEY_ED25519, &k->ed_pem, &error), 0);
	buf_init(&b, 0);
	assert_int_equal(dkim_key_record(k->rsa_pem, strlen(k->rsa_pem), &b,
	    &error), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_true(strlen(s) < sizeof(k->rsa_rec));
	memcpy(k->rsa_rec, s, strlen(s) + 1);
	buf_reset(&b);
	assert_int_equal(dkim_key_record(k->ed_pem, strlen(k->ed_pem), &b,
	    &error), 0);
	assert_int_equal(buf_cstr(&b, &s), 0);
	assert_true(strlen(s) < sizeof(k->ed_rec));
	memcpy(k->ed_rec, s, strlen(s) + 1);
	buf_deinit(&b);
	assert_non_null(k->rsa = dkim_signer_new("Example.org", "sel",
	    k->rsa_pem, strlen(k->rsa_pem), &error));
	assert_non_null(k->ed = dkim_signer_new("example.org", "ed",
	    k->ed_pem, strlen(k->ed_pem), &error));
	*state = k;
	return 0;
}

static int
keys_teardown(void **state)
{
	struct keys *k = *state;

	dkim_signer_free(&k->rsa);
	dkim_signer_free(&k->ed);
	free(k->rsa_pem);
	free(k->ed_pem);
	free(k);
	return 0;
}

#define NOW	1700000000

/* Sign msg with one signer; returns the signed message (free it). */
static char *
sign(struct dkim_signer *s, const char *msg, time_t now)
{
	struct dkim_signer *ss[1] = { s };
	const char *error = NULL, *out;
	struct buf b;
	char *r;

	buf_init(&b, 0);
	if (dkim_sign_message(ss, 1, msg, strlen(msg), now, &b, &error) != 0)
		fail_msg("sign: %s", error);
	assert_int_equal(buf_append_str(&b, msg), 0);
	assert_int_equal(buf_cstr(&b, &out), 0);
	r = strdup(out);
	buf_deinit(&b);
	assert_non_null(r);
	return r;
}

/* Verify the first signature of msg with key record rec. */
static void
expect(const char *msg, const char *rec, time_t now, enum dkim_status st,
    const char *reason)
{
	const char *keys[1] = { rec };
	const struct dkim_result *r;
	struct dkim_verify *v;
	size_t step;

	for (step = 0; step < 2; step++) {
		v = verify(msg, strlen(msg), step, keys, 1, now);
		assert_true(dkim_verify_count(v) >= 1);
		r = dkim_verify_result(v, 0);
		if (r->status != st || (reason != NULL &&
		    strcmp(r->reason, reason) != 0))
			fail_msg("got %s (%s), want %s (%s)",
			    dkim_status_name(r->status), r->reason,
			    dkim_status_name(st), reason != NULL ? reason :
			    "any");
		dkim_verify_free(&v);
	}
}

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t n;
	char *r;

	assert_non_null(p);
	n = strlen(s) - strlen(from) + strlen(to) + 1;
	r = malloc(n);
	assert_non_null(r);
	snprintf(r, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return r;
}

static void
test_sign_verify(void **state)
{
	struct keys *k = *state;
	char *m;
	int hc, bc;

	for (hc = 0; hc < 2; hc++)
		for (bc = 0; bc < 2; bc++) {
			dkim_signer_set_canon(k->rsa, hc, bc);
			dkim_signer_set_canon(k->ed, hc, bc);
			m = sign(k->rsa, test_msg, NOW);
			expect(m, k->rsa_rec, NOW, DKIM_PASS, "");
			free(m);
			m = sign(k->ed, test_msg, NOW);
			expect(m, k->ed_rec, NOW, DKIM_PASS, "");
			free(m);
		}
	dkim_signer_set_canon(k->rsa, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED);
	dkim_signer_set_canon(k->ed, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED);
}

static void
test_sign_format(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *p, *eol;

	/* h= over-signs From, To, Subject, Date; Received not signed */
	assert_non_null(strstr(m, "h=from:from:to:to:subject:subject:date:"
	    "date:message-id;"));
	assert_non_null(strstr(m, "t=1700000000;"));
	assert_non_null(strstr(m, "c=relaxed/relaxed;"));
	/* folded at 78 columns */
	for (p = m; (eol = strstr(p, "\r\n")) != NULL && p[0] != '\r';
	    p = eol + 2)
		assert_true(eol - p <= 78);
	free(m);
}

static void
test_multiple_signers(void **state)
{
	struct keys *k = *state;
	struct dkim_signer *ss[2] = { k->rsa, k->ed };
	const char *keys[2] = { k->rsa_rec, k->ed_rec };
	const char *error, *out;
	struct dkim_verify *v;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(dkim_sign_message(ss, 2, test_msg, strlen(test_msg),
	    NOW, &b, &error), 0);
	assert_int_equal(buf_append_str(&b, test_msg), 0);
	assert_int_equal(buf_cstr(&b, &out), 0);
	v = verify(out, b.len, 0, keys, 2, NOW);
	assert_int_equal(dkim_verify_count(v), 2);
	assert_int_equal(dkim_verify_result(v, 0)->status, DKIM_PASS);
	assert_int_equal(dkim_verify_result(v, 1)->status, DKIM_PASS);
	assert_string_equal(dkim_verify_result(v, 1)->algorithm,
	    "ed25519-sha256");
	dkim_verify_free(&v);
	buf_deinit(&b);
}

static void
test_tampered(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *t;

	t = replace(m, "Subject: Lunch", "Subject: Dinner");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "signature did not verify");
	free(t);
	t = replace(m, "at noon", "at nine");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "body hash mismatch");
	free(t);
	/* relaxed: whitespace changes are fine */
	t = replace(m, "Subject: Lunch", "subject:   Lunch ");
	expect(t, k->rsa_rec, NOW, DKIM_PASS, NULL);
	free(t);
	/* unsigned field added: fine; over-signed field added: not */
	t = replace(m, "From: Alice", "X-Extra: 1\r\nFrom: Alice");
	expect(t, k->rsa_rec, NOW, DKIM_PASS, NULL);
	free(t);
	t = replace(m, "From: Alice", "To: eve@example.com\r\nFrom: Alice");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "signature did not verify");
	free(t);
	t = replace(m, "From: Alice",
	    "From: Mallory <m@example.com>\r\nFrom: Alice");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "signature did not verify");
	free(t);
	t = replace(m, "From: Alice", "Cc: eve@example.com\r\nFrom: Alice");
	expect(t, k->rsa_rec, NOW, DKIM_PASS, NULL);
	free(t);
	/* b= damaged */
	t = replace(m, "b=", "b=AAAA");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "signature did not verify");
	free(t);
	free(m);
	m = sign(k->ed, test_msg, NOW);
	t = replace(m, "Subject: Lunch", "Subject: Dinner");
	expect(t, k->ed_rec, NOW, DKIM_FAIL, "signature did not verify");
	free(t);
	t = replace(m, "Alice  \r\n", "Bob\r\n");
	expect(t, k->ed_rec, NOW, DKIM_FAIL, "body hash mismatch");
	free(t);
	free(m);
}

/*
 * RSA verification through BN (dkim_rsa.c): every
 * encoding but the one RFC 8017 9.2 makes must fail, the same way
 * EVP_PKEY_verify decides.
 */

#define RSA_K	256	/* 2048-bit modulus octets */
#define RSA_ZERO_TRIES	8192	/* signatures tried for a leading 0 */

static EVP_PKEY *
pem_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)strlen(pem));
	EVP_PKEY *pk;

	assert_non_null(bio);
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(pk);
	return pk;
}

/* The raw RSA private operation on em (k octets, < n). */
static void
raw_sign(EVP_PKEY *pk, const uint8_t *em, uint8_t *sig)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t len = RSA_K;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_sign_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_NO_PADDING), 1);
	assert_int_equal(EVP_PKEY_sign(c, sig, &len, em, RSA_K), 1);
	assert_int_equal(len, RSA_K);
	EVP_PKEY_CTX_free(c);
}

/* What OpenSSL says about sig over hash. */
static int
evp_verify(EVP_PKEY *pk, const uint8_t *hash, const uint8_t *sig,
    size_t len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	int r;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_verify_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING),
	    1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()), 1);
	r = EVP_PKEY_verify(c, sig, len, hash, 32);
	EVP_PKEY_CTX_free(c);
	return r == 1 ? 1 : 0;
}

/* dkim_key_verify (twice: the key cache is cold, then warm) agrees with
 * OpenSSL and says want. */
static void
expect_rsa(const struct dkim_key *key, EVP_PKEY *pk, const uint8_t *hash,
    const uint8_t *sig, size_t len, int want)
{
	const char *error = NULL;
	unsigned bits;
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(dkim_key_verify(key, DKIM_ALG_RSA_SHA256,
		    hash, sig, len, &bits, &error), want);
	assert_int_equal(evp_verify(pk, hash, sig, len), want);
}

static const uint8_t di_sha256[19] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

/* EM = 00 01 FF.. 00 || di || hash, k octets. */
static void
encode(uint8_t *em, const uint8_t *di, size_t dilen, const uint8_t *hash)
{
	size_t t = dilen + 32;

	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, RSA_K - t - 3);
	em[RSA_K - t - 1] = 0x00;
	memcpy(em + RSA_K - t, di, dilen);
	memcpy(em + RSA_K - 32, hash, 32);
}

/* The checks on one private key (2048 bits); the public key goes in
 * as a parsed key record, SubjectPublicKeyInfo in p=. */
static void
rsa_encodings(EVP_PKEY *pk)
{
	struct dkim_key *key = calloc(1, sizeof(*key));
	uint8_t hash[32], em[RSA_K], sig[RSA_K + 1], good[RSA_K];
	uint8_t di[sizeof(di_sha256)];
	unsigned char *der = NULL;
	BIGNUM *n = NULL;
	int len, i;

	assert_non_null(key);
	assert_int_equal(EVP_PKEY_get_bits(pk), RSA_K * 8);
	assert_true((len = i2d_PUBKEY(pk, &der)) > 0);
	assert_true((size_t)len <= sizeof(key->p));
	memcpy(key->p, der, (size_t)len);
	key->plen = (size_t)len;
	key->type = DKIM_KEY_RSA;
	OPENSSL_free(der);
	for (i = 0; i < 32; i++)
		hash[i] = (uint8_t)(i * 7 + 1);

	/* the one valid encoding */
	encode(em, di_sha256, sizeof(di_sha256), hash);
	raw_sign(pk, em, good);
	expect_rsa(key, pk, hash, good, RSA_K, 1);
	/* tampered signature, tampered hash */
	memcpy(sig, good, RSA_K);
	sig[RSA_K / 2] ^= 0x10;
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	hash[31] ^= 1;
	expect_rsa(key, pk, hash, good, RSA_K, 0);
	hash[31] ^= 1;
	/* first octet not 0 (still below n) */
	encode(em, di_sha256, sizeof(di_sha256), hash);
	em[0] = 0x01;
	raw_sign(pk, em, sig);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	/* block type 2 instead of 1 */
	encode(em, di_sha256, sizeof(di_sha256), hash);
	em[1] = 0x02;
	raw_sign(pk, em, sig);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	/* a padding octet other than FF */
	encode(em, di_sha256, sizeof(di_sha256), hash);
	em[40] = 0xfe;
	raw_sign(pk, em, sig);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	/* short padding, the DigestInfo and hash moved up, garbage after */
	memset(em, 0xab, sizeof(em));
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, 8);
	em[10] = 0x00;
	memcpy(em + 11, di_sha256, sizeof(di_sha256));
	memcpy(em + 11 + sizeof(di_sha256), hash, 32);
	raw_sign(pk, em, sig);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	/* DigestInfo: another algorithm (SHA-384's OID), parameters left
	 * out (2 octets shorter, the padding 2 longer) */
	memcpy(di, di_sha256, sizeof(di));
	di[14] = 0x02;
	encode(em, di, sizeof(di), hash);
	raw_sign(pk, em, sig);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	{
		static const uint8_t di_nonull[17] = {
			0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
			0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20,
		};

		encode(em, di_nonull, sizeof(di_nonull), hash);
		raw_sign(pk, em, sig);
		expect_rsa(key, pk, hash, sig, RSA_K, 0);
	}
	/* short signatures: the valid one less its last octet; empty;
	 * too long: one octet more (a leading zero) */
	expect_rsa(key, pk, hash, good, RSA_K - 1, 0);
	expect_rsa(key, pk, hash, good, 0, 0);
	sig[0] = 0x00;
	memcpy(sig + 1, good, RSA_K);
	expect_rsa(key, pk, hash, sig, RSA_K + 1, 0);
	/* a valid signature whose first octet is 0, without that octet:
	 * the same integer, but not k octets (RFC 8017 8.2.2 step 1) */
	{
		uint8_t h2[32];
		unsigned tries;

		memcpy(h2, hash, sizeof(h2));
		for (tries = 0; tries < RSA_ZERO_TRIES; tries++) {
			h2[0] = (uint8_t)tries;
			h2[1] = (uint8_t)(tries >> 8);
			encode(em, di_sha256, sizeof(di_sha256), h2);
			raw_sign(pk, em, sig);
			if (sig[0] == 0x00)
				break;
		}
		assert_true(tries < RSA_ZERO_TRIES);
		expect_rsa(key, pk, h2, sig, RSA_K, 1);
		expect_rsa(key, pk, h2, sig + 1, RSA_K - 1, 0);
	}
	/* s >= n: n itself, all ones; s = 1 */
	assert_int_equal(EVP_PKEY_get_bn_param(pk, "n", &n), 1);
	assert_int_equal(BN_bn2binpad(n, sig, RSA_K), RSA_K);
	BN_free(n);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	memset(sig, 0xff, RSA_K);
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	memset(sig, 0, RSA_K);
	sig[RSA_K - 1] = 1;
	expect_rsa(key, pk, hash, sig, RSA_K, 0);
	/* and a signature OpenSSL made itself */
	{
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		size_t slen = RSA_K;

		assert_non_null(c);
		assert_int_equal(EVP_PKEY_sign_init(c), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(c,
		    RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(c,
		    EVP_sha256()), 1);
		assert_int_equal(EVP_PKEY_sign(c, sig, &slen, hash, 32), 1);
		EVP_PKEY_CTX_free(c);
		expect_rsa(key, pk, hash, sig, slen, 1);
	}
	free(key);
}

/* A new RSA key with public exponent e. */
static EVP_PKEY *
rsa_key_with_e(unsigned long e_word)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *c;
	BIGNUM *e = BN_new();

	assert_non_null(e);
	assert_int_equal(BN_set_word(e, e_word), 1);
	assert_non_null(c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL));
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(c, RSA_K * 8), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(c, e), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &pk), 1);
	EVP_PKEY_CTX_free(c);
	BN_free(e);
	return pk;
}

static void
test_rsa_bn_encodings(void **state)
{
	/* Other exponents through the same path: the smallest, and the
	 * largest it takes (every bit set: 31 squares, 31 products). */
	static const unsigned long others[] = { 3, 0xffffffffUL };
	struct keys *k = *state;
	EVP_PKEY *pk = pem_key(k->rsa_pem);
	size_t i;

	rsa_encodings(pk);	/* e = 65537 */
	EVP_PKEY_free(pk);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		pk = rsa_key_with_e(others[i]);
		rsa_encodings(pk);
		EVP_PKEY_free(pk);
	}
}

/* Two records with the same key and different flags: the record cache
 * goes by the whole text, not by the key. */
static void
test_key_record_cache(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *rec_t, *rec_s;

	rec_t = replace(k->rsa_rec, "k=rsa;", "k=rsa; t=y;");
	rec_s = replace(k->rsa_rec, "k=rsa;", "k=rsa; s=other;");
	expect(m, k->rsa_rec, NOW, DKIM_PASS, "");
	expect(m, rec_t, NOW, DKIM_PASS, "testing key (t=y)");
	expect(m, rec_s, NOW, DKIM_PERMERROR, "key not for email (s=)");
	expect(m, k->rsa_rec, NOW, DKIM_PASS, "");
	expect(m, rec_t, NOW, DKIM_PASS, "testing key (t=y)");
	free(rec_t);
	free(rec_s);
	free(m);
}

static void
test_body_length_tag(void **state)
{
	struct keys *k = *state;
	const char *keys[1] = { k->rsa_rec };
	struct dkim_verify_opts opts = { .now = NOW,
	    .reject_partial_body = true };
	struct dkim_verify *v;
	char *m, *t;
	size_t i;

	dkim_signer_set_length_tag(k->rsa, true);
	m = sign(k->rsa, test_msg, NOW);
	dkim_signer_set_length_tag(k->rsa, false);
	assert_non_null(strstr(m, "l=32;"));
	expect(m, k->rsa_rec, NOW, DKIM_PASS, "");
	t = malloc(strlen(m) + 32);
	assert_non_null(t);
	snprintf(t, strlen(m) + 32, "%sBuy now!\r\n", m);
	expect(t, k->rsa_rec, NOW, DKIM_PASS,
	    "body length limit leaves 10 octets unsigned");
	v = dkim_verify_new(&opts);
	dkim_verify_feed(v, t, strlen(t));
	(void)dkim_verify_end(v);
	dkim_verify_set_key(v, 0, keys[0], strlen(keys[0]));
	assert_int_equal(dkim_verify_result(v, 0)->status, DKIM_POLICY);
	assert_int_equal(dkim_verify_result(v, 0)->unsigned_octets, 10);
	dkim_verify_free(&v);
	free(t);
	/* body shortened below l= */
	t = replace(m, "  Alice  \r\n", "");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL, "body shorter than l=");
	free(t);
	free(m);
	(void)i;
}

static void
test_algorithm_and_key_size(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *t, rec[1100];
	EVP_PKEY *pk;
	unsigned char der[512], *q;
	char b64[1024];
	int bits[] = { 512, 768 }, n, i;

	t = replace(m, "a=rsa-sha256", "a=rsa-sha1");
	expect(t, k->rsa_rec, NOW, DKIM_FAIL,
	    "rsa-sha1 is not accepted (RFC 8301)");
	free(t);
	for (i = 0; i < 2; i++) {
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits[i]);
		assert_non_null(pk);
		q = der;
		n = i2d_PUBKEY(pk, &q);
		assert_true(n > 0 && n < (int)sizeof(der));
		EVP_EncodeBlock((unsigned char *)b64, der, n);
		snprintf(rec, sizeof(rec), "v=DKIM1; k=rsa; p=%s", b64);
		snprintf(b64, sizeof(b64), "%d-bit key is too small "
		    "(RFC 8301)", bits[i]);
		expect(m, rec, NOW, DKIM_FAIL, b64);
		EVP_PKEY_free(pk);
	}
	free(m);
}

static void
test_key_record_flags(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), rec[1100];
	const char *p = strstr(k->rsa_rec, "p=");

	snprintf(rec, sizeof(rec), "v=DKIM1; t=y; %s", p);
	expect(m, rec, NOW, DKIM_PASS, "testing key (t=y)");
	snprintf(rec, sizeof(rec), "v=DKIM1; s=tlsrpt; %s", p);
	expect(m, rec, NOW, DKIM_PERMERROR, "key not for email (s=)");
	snprintf(rec, sizeof(rec), "v=DKIM1; s=tlsrpt:*; %s", p);
	expect(m, rec, NOW, DKIM_PASS, "");
	snprintf(rec, sizeof(rec), "v=DKIM1; h=sha1; %s", p);
	expect(m, rec, NOW, DKIM_PERMERROR, "key does not allow sha256 (h=)");
	snprintf(rec, sizeof(rec), "v=DKIM1; h=sha1:sha256; %s", p);
	expect(m, rec, NOW, DKIM_PASS, "");
	expect(m, "v=DKIM1; k=rsa; p=", NOW, DKIM_PERMERROR, "key revoked");
	expect(m, "v=DKIM1; k=rsa; p=AAAA", NOW, DKIM_PERMERROR,
	    "bad RSA public key");
	expect(m, "garbage", NOW, DKIM_PERMERROR,
	    "key record: tag without '='");
	expect(m, k->ed_rec, NOW, DKIM_PERMERROR,
	    "key type does not match a=");
	free(m);
}

static void
test_time_and_identity(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *t;

	/* t= in the future beyond the allowed skew */
	expect(m, k->rsa_rec, NOW - DKIM_CLOCK_SKEW - 10, DKIM_FAIL,
	    "signature timestamp in the future");
	expect(m, k->rsa_rec, NOW - DKIM_CLOCK_SKEW + 10, DKIM_PASS, "");
	t = replace(m, "t=1700000000;", "t=1700000000; x=1700000100;");
	expect(t, k->rsa_rec, NOW + 100 + DKIM_CLOCK_SKEW + 1, DKIM_FAIL,
	    "signature expired");
	free(t);
	t = replace(m, "d=example.org;", "d=example.org; i=@other.org;");
	expect(t, k->rsa_rec, NOW, DKIM_PERMERROR, "i= not within d= domain");
	free(t);
	free(m);
}

static void
test_strict_subdomain(void **state)
{
	struct keys *k = *state;
	char *m = sign(k->rsa, test_msg, NOW), *t, rec[1100];
	const char *p = strstr(k->rsa_rec, "p=");

	/* i= in a subdomain changes the signed header: only the t=s check
	 * matters here, which comes before the signature check. */
	t = replace(m, "d=example.org;", "d=example.org; i=a@sub.example.org;");
	snprintf(rec, sizeof(rec), "v=DKIM1; t=s; %s", p);
	expect(t, rec, NOW, DKIM_PERMERROR,
	    "i= subdomain not allowed by key (t=s)");
	free(t);
	free(m);
}

static void
test_too_many_signatures(void **state)
{
	struct keys *k = *state;
	struct dkim_signer *ss[DKIM_SIGS_MAX + 2];
	const char *error, *out;
	struct dkim_verify *v;
	struct buf b;
	size_t i;

	for (i = 0; i < DKIM_SIGS_MAX + 2; i++)
		ss[i] = k->ed;
	buf_init(&b, 0);
	assert_int_equal(dkim_sign_message(ss, DKIM_SIGS_MAX + 2, test_msg,
	    strlen(test_msg), NOW, &b, &error), 0);
	assert_int_equal(buf_append_str(&b, test_msg), 0);
	assert_int_equal(buf_cstr(&b, &out), 0);
	v = verify(out, b.len, 0, NULL, 0, NOW);
	assert_int_equal(dkim_verify_count(v), DKIM_SIGS_MAX + 2);
	for (i = 0; i < DKIM_SIGS_MAX; i++)
		dkim_verify_set_key(v, i, k->ed_rec, strlen(k->ed_rec));
	for (i = 0; i < DKIM_SIGS_MAX; i++)
		assert_int_equal(dkim_verify_result(v, i)->status, DKIM_PASS);
	assert_int_equal(dkim_verify_result(v, DKIM_SIGS_MAX)->status,
	    DKIM_NEUTRAL);
	dkim_verify_free(&v);
	buf_deinit(&b);
}

static void
test_unsigned_and_broken(void **state)
{
	static const char *msgs[] = {
		"",
		"\r\n",
		"From: a@b\r\n",
		"no colon\r\n\r\nbody",
		"DKIM-Signature: nonsense\r\nFrom: a@b\r\n\r\nx\r\n",
	};
	struct dkim_verify *v;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		v = verify(msgs[i], strlen(msgs[i]), 0, NULL, 0, NOW);
		assert_int_equal(dkim_verify_count(v), 0);
		dkim_verify_free(&v);
	}
	v = verify(msgs[4], strlen(msgs[4]), 1, NULL, 0, NOW);
	assert_int_equal(dkim_verify_count(v), 1);
	assert_int_equal(dkim_verify_result(v, 0)->status, DKIM_PERMERROR);
	assert_string_equal(dkim_verify_result(v, 0)->reason,
	    "tag without '='");
	dkim_verify_free(&v);
}

static void
test_ar_format(void **state)
{
	struct dkim_result r;
	char out[DKIM_AR_MAX];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.status = DKIM_PASS;
	r.key_bits = 2048;
	snprintf(r.domain, sizeof(r.domain), "example.org");
	snprintf(r.selector, sizeof(r.selector), "sel");
	snprintf(r.auid, sizeof(r.auid), "@example.org");
	snprintf(r.algorithm, sizeof(r.algorithm), "rsa-sha256");
	snprintf(r.b, sizeof(r.b), "AbC+/dEf");
	assert_int_equal(dkim_ar_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "dkim=pass (2048-bit key) "
	    "header.d=example.org header.i=@example.org header.s=sel "
	    "header.a=rsa-sha256 header.b=\"AbC+/dEf\"");
	r.status = DKIM_FAIL;
	snprintf(r.reason, sizeof(r.reason), "body hash mismatch");
	snprintf(r.b, sizeof(r.b), "AbCdEfGh");
	assert_int_equal(dkim_ar_format(&r, out, sizeof(out)), 0);
	assert_string_equal(out, "dkim=fail (2048-bit key; body hash "
	    "mismatch) header.d=example.org header.i=@example.org "
	    "header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh");
	assert_int_equal(dkim_ar_format(&r, out, 20), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_header_vectors),
		cmocka_unit_test(test_canon_body_vectors),
		cmocka_unit_test(test_canon_body_empty_hashes),
		cmocka_unit_test(test_canon_body_limit),
		cmocka_unit_test(test_canon_body_model),
		cmocka_unit_test(test_tags_parse),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_sig_parse),
		cmocka_unit_test(test_sig_parse_h_limit),
		cmocka_unit_test(test_rfc8463_example),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_format),
		cmocka_unit_test(test_multiple_signers),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_rsa_bn_encodings),
		cmocka_unit_test(test_key_record_cache),
		cmocka_unit_test(test_body_length_tag),
		cmocka_unit_test(test_algorithm_and_key_size),
		cmocka_unit_test(test_key_record_flags),
		cmocka_unit_test(test_time_and_identity),
		cmocka_unit_test(test_strict_subdomain),
		cmocka_unit_test(test_too_many_signatures),
		cmocka_unit_test(test_unsigned_and_broken),
		cmocka_unit_test(test_ar_format),
	};

	return cmocka_run_group_tests_name("dkim", tests, keys_setup,
	    keys_teardown);
}
