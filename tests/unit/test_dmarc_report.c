/* test_dmarc_report: the aggregate report pieces that need no DNS: the
 * XML document (element order of RFC 7489 appendix C, odd header_from
 * values escaped), gzip that inflates back, rua= mailto: parsing with
 * !size limits, the 7.1 authorization record test, and the store side
 * (rows grouped into records, deleted after a report, pruned by age). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "dmarc.h"
#include "dmarc_report.h"
#include "store.h"
#include "store_dmarc.h"
#include "tmpdir.h"

static const char *
xml_of(const struct dmarc_report_group *g, size_t n, struct buf *b)
{
	struct dmarc_record rec;
	const char *err = NULL, *s;
	struct dmarc_report_meta m = {
		.org_name = "Org & <Co>", .email = "postmaster@rx.test",
		.report_id = "r1", .domain = "sender.test",
		.begin = 86400, .end = 2 * 86400 - 1, .rec = &rec,
	};
	static const char txt[] = "v=DMARC1; p=quarantine; sp=reject; "
	    "adkim=s; pct=50; fo=1:d; rua=mailto:a@sender.test";

	assert_int_equal(dmarc_record_parse(txt, strlen(txt), &rec, &err), 0);
	buf_init(b, DMARC_REPORT_XML_MAX);
	assert_int_equal(dmarc_report_xml(&m, g, n, b), 0);
	assert_int_equal(buf_cstr(b, &s), 0);
	return s;
}

static void
test_xml_document(void **state)
{
	struct dmarc_report_group g[2] = {
		{ .source_ip = "192.0.2.1", .header_from = "sender.test",
		  .envelope_from = "sender.test", .disposition = "none",
		  .dkim_aligned = true, .spf_aligned = false,
		  .dkim = "pass", .dkim_domain = "sender.test",
		  .spf = "softfail", .spf_domain = "sender.test",
		  .count = 3 },
		{ .source_ip = "2001:db8::1", .header_from = "sender.test",
		  .envelope_from = "", .disposition = "quarantine",
		  .dkim = "none", .dkim_domain = "", .spf = "none",
		  .spf_domain = "", .count = 1 },
	};
	struct buf b;
	const char *s, *p;

	(void)state;
	s = xml_of(g, 2, &b);
	/* Appendix C: version is feedback's first child. */
	assert_non_null(strstr(s, "<feedback>\n  <version>1.0</version>\n"
	    "  <report_metadata>\n"));
	assert_non_null(strstr(s, "<org_name>Org &amp; &lt;Co&gt;</org_name>"));
	assert_non_null(strstr(s, "<begin>86400</begin>"));
	assert_non_null(strstr(s, "<end>172799</end>"));
	assert_non_null(strstr(s, "<adkim>s</adkim>"));
	assert_non_null(strstr(s, "<aspf>r</aspf>"));
	assert_non_null(strstr(s, "<p>quarantine</p>"));
	assert_non_null(strstr(s, "<sp>reject</sp>"));
	assert_non_null(strstr(s, "<pct>50</pct>"));
	assert_non_null(strstr(s, "<fo>1:d</fo>"));
	/* The first record: in order row, identifiers, auth_results. */
	p = strstr(s, "<record>");
	assert_non_null(p);
	assert_true(strstr(p, "<source_ip>192.0.2.1</source_ip>") <
	    strstr(p, "<identifiers>"));
	assert_non_null(strstr(p, "<count>3</count>"));
	assert_non_null(strstr(p, "<dkim>pass</dkim>\n        <spf>fail"
	    "</spf>"));
	assert_non_null(strstr(p, "<result>softfail</result>"));
	/* The second: no DKIM signature, no dkim in auth_results. */
	p = strstr(p + 1, "<record>");
	assert_non_null(p);
	assert_non_null(strstr(p, "<count>1</count>"));
	assert_null(strstr(p, "<auth_results>\n      <dkim>"));
	assert_non_null(strstr(p, "<scope>mfrom</scope>"));
	assert_null(strstr(p + 1, "<record>"));
	buf_deinit(&b);
}

static void
test_xml_escapes_header_from(void **state)
{
	struct dmarc_report_group g = {
		.source_ip = "192.0.2.1",
		.header_from = "a<b>&\"c'.test</header_from><x>\x01",
		.envelope_from = "e&f", .disposition = "none",
		.dkim = "none", .dkim_domain = "d<", .spf = "none",
		.spf_domain = "", .count = 1,
	};
	struct buf b;
	const char *s;

	(void)state;
	s = xml_of(&g, 1, &b);
	assert_non_null(strstr(s, "<header_from>a&lt;b&gt;&amp;&quot;c&apos;"
	    ".test&lt;/header_from&gt;&lt;x&gt;?</header_from>"));
	assert_non_null(strstr(s, "<envelope_from>e&amp;f</envelope_from>"));
	assert_non_null(strstr(s, "<domain>d&lt;</domain>"));
	assert_null(strstr(s, "<x>"));
	assert_null(strchr(s, '\x01'));
	buf_deinit(&b);
}

/* Whether s is well-formed UTF-8 (RFC 3629) with only XML 1.0 Chars. */
static bool
xml_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		uint32_t cp;
		size_t n, i;

		if (*p < 0x80) {
			if (*p < 0x20 && *p != '\t' && *p != '\n' &&
			    *p != '\r')
				return false;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p < 0xe0)
			n = 2, cp = *p & 0x1f;
		else if (*p >= 0xe0 && *p < 0xf0)
			n = 3, cp = *p & 0x0f;
		else if (*p >= 0xf0 && *p < 0xf5)
			n = 4, cp = *p & 0x07;
		else
			return false;
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp == 0xfffe || cp == 0xffff)
			return false;
		p += n;
	}
	return true;
}

static void
test_xml_utf8(void **state)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "mx.\xff\xfe", "mx.\xef\xbf\xbd\xef\xbf\xbd" },
		/* valid: 2, 3 and 4 octets, U+FFFD itself, U+10FFFF */
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xe2\x82\xac&", "\xe2\x82\xac&amp;" },
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "\xef\xbf\xbd", "\xef\xbf\xbd" },
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
		/* a lone continuation, an overlong '/', a surrogate */
		{ "a\x80" "b", "a\xef\xbf\xbd" "b" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* above U+10FFFF, U+FFFF (not an XML Char) */
		{ "\xf4\x90\x80\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xef\xbf\xbf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* truncated at the end, and before an ASCII octet */
		{ "x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xc3<", "\xef\xbf\xbd&lt;" },
		{ "\xf8\x88\x80\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		/* C0 controls but the allowed ones are '?' */
		{ "a\x01\x1f\x7f", "a???" },
	};
	struct dmarc_report_group g = {
		.source_ip = "192.0.2.1", .header_from = "sender.test",
		.envelope_from = "mx.\xff\xfe", .disposition = "none",
		.dkim = "none", .dkim_domain = "", .spf = "none",
		.spf_domain = "mx.\xff\xfe", .count = 1,
	};
	struct buf b;
	const char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		buf_init(&b, 1024);
		assert_int_equal(dmarc_report_xml_escape(&b, t[i].in), 0);
		assert_int_equal(buf_cstr(&b, &s), 0);
		if (strcmp(s, t[i].out) != 0)
			fail_msg("case %zu: escaped wrong", i);
		assert_true(xml_utf8(s));
		buf_deinit(&b);
	}
	/* A HELO name as the null sender's envelope_from and SPF domain:
	 * the whole document stays well-formed. */
	s = xml_of(&g, 1, &b);
	assert_true(xml_utf8(s));
	assert_non_null(strstr(s, "<envelope_from>mx.\xef\xbf\xbd"
	    "\xef\xbf\xbd</envelope_from>"));
	buf_deinit(&b);
}

static void
test_gzip_round_trip(void **state)
{
	static const char text[] = "<feedback>hello hello hello</feedback>";
	uint8_t out[256];
	struct buf gz;
	z_stream z;

	(void)state;
	buf_init(&gz, 0);
	assert_int_equal(dmarc_report_gzip(text, strlen(text), &gz), 0);
	assert_true(gz.len > 18);
	assert_int_equal(gz.data[0], 0x1f);	/* gzip magic */
	assert_int_equal(gz.data[1], 0x8b);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
	z.next_in = gz.data;
	z.avail_in = (uInt)gz.len;
	z.next_out = out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, strlen(text));
	assert_memory_equal(out, text, strlen(text));
	inflateEnd(&z);
	buf_deinit(&gz);
}

static void
test_mailto(void **state)
{
	static const struct {
		const char	*uri;
		int		 rc;
		const char	*addr;
		uint64_t	 limit;
	} t[] = {
		{ "mailto:reports@Example.TEST", 0, "reports@example.test", 0 },
		{ "MAILTO:r@x.test!10m", 0, "r@x.test", 10 << 20 },
		{ "mailto:r@x.test!500", 0, "r@x.test", 500 },
		{ "mailto:r@x.test!2k", 0, "r@x.test", 2048 },
		{ "https://x.test/dmarc", 1, "", 0 },
		{ "mailto:nobody", -1, "", 0 },
		{ "mailto:a@b@c.test", -1, "", 0 },
		{ "mailto:a%40b@c.test", -1, "", 0 },
		{ "mailto:a@c.test?subject=x", -1, "", 0 },
		{ "mailto:a@-c.test", -1, "", 0 },
		{ "mailto:a@c.test!", -1, "", 0 },
		{ "mailto:a@c.test!10x", -1, "", 0 },
		{ "mailto:\"a b\"@c.test", -1, "", 0 },
		{ "mailto:a<b>@c.test", -1, "", 0 },
		/* Too large a size saturates; it does not wrap. */
		{ "mailto:a@b.com!18014398509481985k", 0, "a@b.com",
		  UINT64_MAX },
		{ "mailto:a@b.com!16777216t", 0, "a@b.com", UINT64_MAX },
		{ "mailto:a@b.com!16777215t", 0, "a@b.com",
		  (uint64_t)16777215 << 40 },
		{ "mailto:a@b.com!18446744073709551617", 0, "a@b.com",
		  UINT64_MAX },
		{ "mailto:a@b.com!99999999999999999999999999m", 0, "a@b.com",
		  UINT64_MAX },
	};
	char addr[DMARC_REPORT_ADDR_MAX + 1];
	uint64_t limit;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = dmarc_report_mailto(t[i].uri, addr, sizeof(addr),
		    &limit);

		if (rc != t[i].rc)
			fail_msg("%s: %d, not %d", t[i].uri, rc, t[i].rc);
		if (rc == 0) {
			assert_string_equal(addr, t[i].addr);
			assert_int_equal(limit, t[i].limit);
		}
	}
}

static void
test_authorizes(void **state)
{
	(void)state;
	assert_true(dmarc_report_authorizes("v=DMARC1", 8));
	assert_true(dmarc_report_authorizes("v=DMARC1;", 9));
	assert_true(dmarc_report_authorizes("v = DMARC1 ; rua=mailto:x@y",
	    27));
	assert_false(dmarc_report_authorizes("v=DMARC10", 9));
	assert_false(dmarc_report_authorizes("p=none; v=DMARC1", 16));
	assert_false(dmarc_report_authorizes("v=spf1", 6));
	assert_false(dmarc_report_authorizes("", 0));
}

static int64_t
add_row(struct store *st, time_t t, const char *ip, const char *domain,
    bool dkim_aligned)
{
	struct dmarc_report_row row;
	struct dmarc_result r;
	const char *err = NULL;
	int64_t id;

	memset(&r, 0, sizeof(r));
	r.status = dkim_aligned ? DMARC_PASS : DMARC_FAIL;
	r.has_record = true;
	r.policy = DMARC_P_NONE;
	r.rec.pct = 100;
	r.dkim = dkim_aligned ? DKIM_PASS : DKIM_NONE;
	r.dkim_aligned = dkim_aligned;
	r.spf = SPF_PASS;
	snprintf(r.from_domain, sizeof(r.from_domain), "%s", domain);
	snprintf(r.policy_domain, sizeof(r.policy_domain), "%s", domain);
	snprintf(r.spf_domain, sizeof(r.spf_domain), "%s", domain);
	if (dkim_aligned)
		snprintf(r.dkim_domain, sizeof(r.dkim_domain), "%s", domain);
	dmarc_report_row(&r, ip, t, &row);
	assert_int_equal(dmarc_report_store(st, &row, &err), 0);
	assert_int_equal(store_dmarc_max_id(st, &id), 0);
	return id;
}

struct seen {
	char	 cols[8][14][64];
	size_t	 n;
};

static void
seen_row(void *ctx, const char *const *cols, int ncols)
{
	struct seen *s = ctx;
	int i;

	assert_true(s->n < 8);
	for (i = 0; i < ncols && i < 14; i++)
		snprintf(s->cols[s->n][i], 64, "%s", cols[i] ? cols[i] : "");
	s->n++;
}

static void
test_store_groups_delete_prune(void **state)
{
	char dir[] = "/tmp/test_dmarc_report.XXXXXX";
	const char *err = NULL;
	struct store *st;
	struct seen s;
	uint64_t n;
	int64_t max;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &st, &err), 0);
	(void)add_row(st, 1000, "192.0.2.1", "a.test", true);
	(void)add_row(st, 1100, "192.0.2.1", "a.test", true);
	(void)add_row(st, 1200, "192.0.2.2", "a.test", false);
	(void)add_row(st, 1300, "192.0.2.1", "B.test", true);
	max = add_row(st, 5000, "192.0.2.1", "a.test", true);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_domains(st, 2000, NULL, seen_row, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.cols[0][0], "a.test");
	assert_string_equal(s.cols[1][0], "b.test");

	/* Before 2000: two records for a.test (the 5000 row is later). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_groups(st, "a.test", 2000, max,
	    STORE_DMARC_GROUPS_MAX, seen_row, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.cols[0][0], "192.0.2.1");
	assert_string_equal(s.cols[0][4], "1");	/* dkim aligned */
	assert_string_equal(s.cols[0][10], "2");	/* count */
	assert_string_equal(s.cols[0][11], "1000");
	assert_string_equal(s.cols[0][12], "1100");
	assert_string_equal(s.cols[1][0], "192.0.2.2");
	assert_string_equal(s.cols[1][4], "0");
	assert_string_equal(s.cols[1][10], "1");

	/* A row newer than the max id taken is not deleted. */
	assert_int_equal(store_dmarc_delete(st, "a.test", 2000, 1, NULL, &n),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(store_dmarc_delete(st, "a.test", 2000, max, NULL,
	    &n), 0);
	assert_int_equal(n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_domains(st, 2000, NULL, seen_row, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.cols[0][0], "b.test");

	/* Retention: rows older than the cut go, the rest stay. */
	assert_int_equal(store_dmarc_prune(st, 2000, &n), 0);
	assert_int_equal(n, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_report_list(st, NULL, 0, seen_row, &s),
	    0);
	assert_int_equal(s.n, 1);
	assert_int_equal(store_dmarc_prune(st, 2000, &n), 0);
	assert_int_equal(n, 0);
	store_close(&st);
	assert_int_equal(tmpdir_remove(dir), 0);
}

/* The key columns of group i of s, as store_dmarc_delete takes them. */
static const char *const *
key_of(struct seen *s, size_t i, const char **key)
{
	size_t j;

	for (j = 0; j < STORE_DMARC_GROUP_KEY; j++)
		key[j] = s->cols[i][j];
	return key;
}

/* A report cut short at the group limit: only the rows of the groups
 * it had are deleted, the rest come in the next report. */
static void
test_store_delete_after_limit(void **state)
{
	char dir[] = "/tmp/test_dmarc_report.XXXXXX";
	const char *err = NULL, *key[STORE_DMARC_GROUP_KEY];
	struct store *st;
	struct seen s;
	uint64_t n;
	int64_t max;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, &st, &err), 0);
	/* Groups in key order: (.1, unaligned), (.1, aligned), .2, .3 x2 */
	(void)add_row(st, 1000, "192.0.2.1", "a.test", true);
	(void)add_row(st, 1000, "192.0.2.3", "a.test", true);
	(void)add_row(st, 1000, "192.0.2.2", "a.test", true);
	(void)add_row(st, 1000, "192.0.2.1", "a.test", false);
	max = add_row(st, 1000, "192.0.2.3", "a.test", true);

	/* One group: only its one row goes (dkim_aligned 0 sorts before
	 * 1, in the key as in the order). */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_groups(st, "a.test", 2000, max, 1,
	    seen_row, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.cols[0][0], "192.0.2.1");
	assert_string_equal(s.cols[0][4], "0");
	assert_int_equal(store_dmarc_delete(st, "a.test", 2000, max,
	    key_of(&s, 0, key), &n), 0);
	assert_int_equal(n, 1);

	/* Two groups: .1 aligned and .2; .3's two rows stay. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_groups(st, "a.test", 2000, max, 2,
	    seen_row, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.cols[0][0], "192.0.2.1");
	assert_string_equal(s.cols[0][4], "1");
	assert_string_equal(s.cols[1][0], "192.0.2.2");
	assert_int_equal(store_dmarc_delete(st, "a.test", 2000, max,
	    key_of(&s, 1, key), &n), 0);
	assert_int_equal(n, 2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_groups(st, "a.test", 2000, max, 2,
	    seen_row, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.cols[0][0], "192.0.2.3");
	assert_string_equal(s.cols[0][10], "2");
	assert_int_equal(store_dmarc_delete(st, "a.test", 2000, max,
	    key_of(&s, 0, key), &n), 0);
	assert_int_equal(n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_dmarc_report_list(st, NULL, 0, seen_row, &s),
	    0);
	assert_int_equal(s.n, 0);
	store_close(&st);
	assert_int_equal(tmpdir_remove(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_document),
		cmocka_unit_test(test_xml_escapes_header_from),
		cmocka_unit_test(test_xml_utf8),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_mailto),
		cmocka_unit_test(test_authorizes),
		cmocka_unit_test(test_store_groups_delete_prune),
		cmocka_unit_test(test_store_delete_after_limit),
	};

	return cmocka_run_group_tests_name("dmarc_report", tests, NULL, NULL);
}
