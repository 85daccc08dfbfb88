/* test_arc: ARC chains made by arc_seal verify with arc_verify (one,
 * two and three sets, RSA and Ed25519 sealers), and fail when a sealed
 * header field, the body, a seal or the structure is tampered with;
 * oldest-pass after a body change between hops; cv=fail chains are not
 * sealed again; Authentication-Results values and forged-field ranges
 * (authres). Keys come from the pure core API: no DNS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arc.h"
#include "authres.h"
#include "buf.h"
#include "dkim.h"
#include "util.h"

#define NOW	1700000000

static const char msg0[] =
    "From: Alice <alice@origin.example>\r\n"
    "To: list@lists.example\r\n"
    "Subject: ARC test\r\n"
    "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
    "Message-ID: <arc-1@origin.example>\r\n"
    "\r\n"
    "Hello,\r\n"
    "  a body   line\r\n";

struct sealer {
	struct dkim_signer *s;
	char		 name[300];
	char		*rec;
};

static struct sealer sealers[2];

static int
setup(void **state)
{
	static const char *const domains[] = { "lists.example", "fwd.example" };
	const char *err;
	char *pem;
	struct buf b;
	const char *rec;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		if (dkim_keygen(i == 0 ? DKIM_KEY_RSA : DKIM_KEY_ED25519, &pem,
		    &err) < 0)
			return -1;
		sealers[i].s = dkim_signer_new(domains[i], "arc", pem,
		    strlen(pem), &err);
		buf_init(&b, 0);
		if (sealers[i].s == NULL || dkim_key_record(pem, strlen(pem),
		    &b, &err) < 0 || buf_cstr(&b, &rec) < 0)
			return -1;
		sealers[i].rec = strdup(rec);
		buf_deinit(&b);
		(void)snprintf(sealers[i].name, sizeof(sealers[i].name),
		    "arc._domainkey.%s", domains[i]);
		free(pem);
	}
	return 0;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		dkim_signer_free(&sealers[i].s);
		free(sealers[i].rec);
	}
	return 0;
}

/* Verify m with the sealers' keys (unknown names: no key). */
static void
verify(const char *m, size_t len, struct arc_result *r)
{
	struct arc_verify *v = arc_verify_new();
	size_t i, k, n;

	arc_verify_feed(v, m, len);
	n = arc_verify_end(v);
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++)
			if (strcmp(arc_verify_key_name(v, i),
			    sealers[k].name) == 0)
				arc_verify_set_key(v, i, sealers[k].rec,
				    strlen(sealers[k].rec));
	arc_verify_result(v, r);
	arc_verify_free(&v);
}

/* Verify m, then seal it with sealer k; returns the new message. */
static char *
hop(const char *m, int k, struct arc_result *chain)
{
	struct buf out;
	const char *err = NULL;
	char *res;

	verify(m, strlen(m), chain);
	buf_init(&out, 0);
	if (arc_seal(sealers[k].s, m, strlen(m), chain,
	    "mx.lists.example;\r\n\tspf=pass smtp.mailfrom=origin.example",
	    NOW, &out, &err) != 0)
		fail_msg("seal: %s", err ? err : "cv=fail");
	assert_int_equal(buf_append(&out, m, strlen(m)), 0);
	res = strndup((const char *)out.data, out.len);
	buf_deinit(&out);
	return res;
}

static char *
replace(const char *m, const char *from, const char *to)
{
	const char *p = strstr(m, from);
	size_t a, flen = strlen(from), tlen = strlen(to);
	char *res;

	assert_non_null(p);
	a = (size_t)(p - m);
	res = malloc(strlen(m) - flen + tlen + 1);
	assert_non_null(res);
	memcpy(res, m, a);
	memcpy(res + a, to, tlen);
	memcpy(res + a + tlen, p + flen, strlen(p + flen) + 1);
	return res;
}

static void
test_none(void **state)
{
	struct arc_result r;

	(void)state;
	verify(msg0, strlen(msg0), &r);
	assert_int_equal(r.status, ARC_NONE);
	assert_int_equal(r.instance, 0);
}

static void
test_chain(void **state)
{
	struct arc_result r, c;
	char *m1, *m2, *m3, *bad;

	(void)state;
	m1 = hop(msg0, 0, &c);
	assert_int_equal(c.status, ARC_NONE);
	assert_non_null(strstr(m1, "ARC-Seal: i=1; a=rsa-sha256; cv=none;"));
	assert_non_null(strstr(m1, "ARC-Authentication-Results: i=1; "
	    "mx.lists.example;"));
	verify(m1, strlen(m1), &r);
	assert_int_equal(r.status, ARC_PASS);
	assert_int_equal(r.instance, 1);
	assert_string_equal(r.domain, "lists.example");

	m2 = hop(m1, 1, &c);
	assert_int_equal(c.status, ARC_PASS);
	assert_non_null(strstr(m2, "ARC-Seal: i=2; a=ed25519-sha256; "
	    "cv=pass;"));
	verify(m2, strlen(m2), &r);
	assert_int_equal(r.status, ARC_PASS);
	assert_int_equal(r.instance, 2);
	assert_int_equal(r.oldest_pass, 0);

	/* A hop that changes the body after verifying (a list footer):
	 * the chain passes (its AMS covers the new body) and oldest-pass
	 * names it. */
	verify(m1, strlen(m1), &c);
	assert_int_equal(c.status, ARC_PASS);
	bad = replace(m1, "a body   line", "a changed line");
	{
		struct buf out;
		const char *err = NULL;

		buf_init(&out, 0);
		assert_int_equal(arc_seal(sealers[1].s, bad, strlen(bad), &c,
		    "mx.fwd.example; none", NOW, &out, &err), 0);
		assert_int_equal(buf_append(&out, bad, strlen(bad)), 0);
		m3 = strndup((const char *)out.data, out.len);
		buf_deinit(&out);
	}
	verify(m3, strlen(m3), &r);
	assert_int_equal(r.status, ARC_PASS);
	assert_int_equal(r.oldest_pass, 2);
	free(m3);
	/* The same change without a new seal breaks the chain. */
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	free(bad);

	/* Tampering with a signed field, the body, a seal. */
	bad = replace(m2, "Subject: ARC test", "Subject: ARC tost");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	free(bad);
	bad = replace(m2, "Hello,", "Hullo,");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	free(bad);
	bad = replace(m2, "ARC-Authentication-Results: i=1; mx",
	    "ARC-Authentication-Results: i=1;  mx.x");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	assert_non_null(strstr(r.reason, "ARC-Seal"));
	free(bad);
	/* Structure: a missing set member, a wrong cv=. */
	bad = replace(m2, "ARC-Authentication-Results: i=1;",
	    "X-Was-AAR: i=1;");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	free(bad);
	bad = replace(m2, "cv=none", "cv=pass");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_FAIL);
	free(bad);
	/* A relaxed-canonicalization-only change passes. */
	bad = replace(m2, "Subject: ARC test", "SUBJECT:   ARC   test ");
	verify(bad, strlen(bad), &r);
	assert_int_equal(r.status, ARC_PASS);
	free(bad);

	/* Three hops. */
	m3 = hop(m2, 0, &c);
	verify(m3, strlen(m3), &r);
	assert_int_equal(r.status, ARC_PASS);
	assert_int_equal(r.instance, 3);
	free(m3);
	free(m1);
	free(m2);
}

static void
test_fail_sealing(void **state)
{
	struct arc_result c, r;
	struct buf out;
	const char *err = NULL;
	char *m1, *bad, *m2;

	(void)state;
	m1 = hop(msg0, 0, &c);
	bad = replace(m1, "Hello,", "Hullo,");
	verify(bad, strlen(bad), &c);
	assert_int_equal(c.status, ARC_FAIL);
	/* 5.1.2: sealed with cv=fail over our own set only. */
	buf_init(&out, 0);
	assert_int_equal(arc_seal(sealers[1].s, bad, strlen(bad), &c,
	    "mx.fwd.example; arc=fail", NOW, &out, &err), 0);
	assert_non_null(strstr((const char *)out.data, "cv=fail"));
	assert_int_equal(buf_append(&out, bad, strlen(bad)), 0);
	m2 = strndup((const char *)out.data, out.len);
	buf_deinit(&out);
	verify(m2, strlen(m2), &r);
	assert_int_equal(r.status, ARC_FAIL);
	assert_true(r.newest_cv_fail);
	/* 5.1 step 2: no further set on a cv=fail chain. */
	buf_init(&out, 0);
	assert_int_equal(arc_seal(sealers[0].s, m2, strlen(m2), &r,
	    "mx.lists.example; none", NOW, &out, &err), 1);
	assert_int_equal(out.len, 0);
	buf_deinit(&out);
	/* A bad AR value is refused. */
	buf_init(&out, 0);
	assert_int_equal(arc_seal(sealers[0].s, msg0, strlen(msg0), &c,
	    "x\r\nInjected: yes", NOW, &out, &err), -1);
	buf_deinit(&out);
	free(m1);
	free(m2);
	free(bad);
}

static void
test_authres(void **state)
{
	struct dkim_result d;
	struct arc_result a;
	struct authres_input in;
	struct authres_range rg[4];
	struct buf b;
	static const char m[] =
	    "Received: from x\r\n"
	    "Authentication-Results: mx.example.org; spf=pass\r\n"
	    "authentication-results :  (c) MX.Example.ORG 1;\r\n"
	    "\tdkim=pass\r\n"
	    "Authentication-Results: \"mx.example.org\"; none\r\n"
	    "Authentication-Results: mx.example.org.evil; none\r\n"
	    "Authentication-Results: other.example; spf=fail\r\n"
	    "X-Authentication-Results: mx.example.org; none\r\n"
	    "\r\n"
	    "Authentication-Results: mx.example.org; body\r\n";
	size_t n;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.status = DKIM_PASS;
	moat_strlcpy(d.domain, "example.com", sizeof(d.domain));
	memset(&a, 0, sizeof(a));
	a.status = ARC_PASS;
	a.instance = 2;
	memset(&in, 0, sizeof(in));
	in.authserv_id = "mx.example.org";
	buf_init(&b, 0);
	assert_int_equal(authres_field(&in, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_string_equal((const char *)b.data,
	    "Authentication-Results: mx.example.org; none\r\n");
	buf_reset(&b);
	in.spf_checked = true;
	in.spf = SPF_PASS;
	in.mail_from = "bounce+x=y@example.com";
	in.dkim = &d;
	in.ndkim = 1;
	in.dkim_checked = true;
	in.arc = &a;
	assert_int_equal(authres_value(&in, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_string_equal((const char *)b.data, "mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=bounce+x=y@example.com;\r\n"
	    "\tdkim=pass header.d=example.com;\r\n"
	    "\tarc=pass (i=2) header.oldest-pass=0");
	buf_reset(&b);
	in.mail_from = "\"odd local\"@example.com";
	in.dkim_checked = false;
	in.arc = NULL;
	assert_int_equal(authres_value(&in, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_string_equal((const char *)b.data, "mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=example.com");
	buf_reset(&b);
	in.mail_from = "";
	in.helo = "helo.example.net";
	assert_int_equal(authres_value(&in, &b), 0);
	assert_int_equal(buf_append(&b, "", 1), 0);
	assert_string_equal((const char *)b.data, "mx.example.org;\r\n"
	    "\tspf=pass smtp.helo=helo.example.net");
	in.authserv_id = "bad id;";
	assert_int_equal(authres_value(&in, &b), -1);
	buf_deinit(&b);

	n = authres_forged(m, strlen(m), "mx.example.org", rg, 4);
	assert_int_equal(n, 3);
	assert_int_equal(rg[0].off, strlen("Received: from x\r\n"));
	assert_int_equal(rg[0].len,
	    strlen("Authentication-Results: mx.example.org; spf=pass\r\n"));
	assert_true(strncmp(m + rg[1].off, "authentication-results :", 24) ==
	    0);
	assert_int_equal(rg[1].len, strlen("authentication-results :  (c) "
	    "MX.Example.ORG 1;\r\n\tdkim=pass\r\n"));
	assert_true(strncmp(m + rg[2].off, "Authentication-Results: \"", 25) ==
	    0);
	assert_int_equal(authres_forged(m, strlen(m), "mx.example.org", rg,
	    1), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_fail_sealing),
		cmocka_unit_test(test_authres),
	};

	return cmocka_run_group_tests_name("arc", tests, setup, teardown);
}
