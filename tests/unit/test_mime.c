/* test_mime: the MIME parser on .eml fixtures in tests/data/mime (exact
 * BODYSTRUCTURE and ENVELOPE strings in Dovecot's form, part offsets,
 * section lookup, malformed structure) and table-driven tests of the
 * decoders: RFC 2047 words, RFC 2231 parameters, address lists, base64,
 * quoted-printable, charsets, HTML to text and IMAP string quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "mime.h"

#ifndef MIME_DATA_DIR
#define MIME_DATA_DIR	NULL
#endif

struct fixture {
	uint8_t			*data;
	size_t			 len;
	struct mime_message	*m;
};

/* The fixture directory: $MIME_DATA_DIR, -DMIME_DATA_DIR, or found from
 * this file's path (meson compiles it as ../tests/unit/test_mime.c). */
static FILE *
open_fixture(const char *name)
{
	const char *dirs[4];
	char path[1024], src[512];
	const char *slash;
	size_t i, n = 0;
	FILE *f;
	int w;

	dirs[n++] = getenv("MIME_DATA_DIR");
	dirs[n++] = MIME_DATA_DIR;
	slash = strrchr(__FILE__, '/');
	w = snprintf(src, sizeof(src), "%.*s/../data/mime",
	    slash == NULL ? 1 : (int)(slash - __FILE__),
	    slash == NULL ? "." : __FILE__);
	dirs[n++] = w > 0 && (size_t)w < sizeof(src) ? src : NULL;
	dirs[n++] = "tests/data/mime";
	for (i = 0; i < n; i++) {
		if (dirs[i] == NULL)
			continue;
		w = snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue;
		if ((f = fopen(path, "rb")) != NULL)
			return f;
	}
	return NULL;
}

static void
load(struct fixture *fx, const char *name)
{
	FILE *f = open_fixture(name);
	size_t cap = 4096, n;

	if (f == NULL)
		fail_msg("fixture %s not found (set MIME_DATA_DIR)", name);
	fx->data = malloc(cap);
	assert_non_null(fx->data);
	fx->len = 0;
	while ((n = fread(fx->data + fx->len, 1, cap - fx->len, f)) > 0) {
		fx->len += n;
		if (fx->len == cap) {
			cap *= 2;
			fx->data = realloc(fx->data, cap);
			assert_non_null(fx->data);
		}
	}
	assert_int_equal(ferror(f), 0);
	fclose(f);
	fx->m = mime_parse(fx->data, fx->len);
	assert_non_null(fx->m);
}

static void
unload(struct fixture *fx)
{
	mime_message_free(&fx->m);
	assert_null(fx->m);
	free(fx->data);
}

/* buf contents as a C string (tests only: contents have no NUL). */
static const char *
str(struct buf *b)
{
	const char *s;

	assert_int_equal(buf_cstr(b, &s), 0);
	return s;
}

static const struct mime_part *
section(const struct fixture *fx, const char *sec)
{
	const struct mime_part *p;

	p = mime_part_by_section(fx->m, sec, strlen(sec));
	assert_non_null(p);
	return p;
}

static void
assert_slice(const struct fixture *fx, size_t off, size_t len,
    const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(fx->data + off, want, len);
}

/* ---- BODYSTRUCTURE and ENVELOPE on fixtures ---- */

static const struct {
	const char	*file;
	const char	*want;
} bodystructures[] = {
	{ "simple.eml",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "13 1 NIL NIL NIL NIL)" },
	{ "alternative_in_mixed.eml",
	  "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-p"
	  "rintable\" 43 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" "
	  "\"iso-8859-1\") NIL NIL \"7bit\" 150 0 NIL NIL NIL NIL) \"altern"
	  "ative\" (\"boundary\" \"inner\") NIL NIL NIL)(\"application\" \""
	  "octet-stream\" (\"name\" \"x.bin\") NIL NIL \"base64\" 8 NIL (\""
	  "attachment\" (\"filename*\" \"utf-8''%E2%82%AC.txt\")) NIL NIL) "
	  "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)" },
	{ "rfc822_attachment.eml",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 12 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL \"forwarde"
	  "d\" \"7bit\" 225 (\"Wed, 3 Jan 2024 12:00:00 +0000\" \"inner\" ("
	  "(\"=?iso-8859-1?q?J=F6rg?= Meier\" NIL \"joerg\" \"example.de\")"
	  ") ((\"=?iso-8859-1?q?J=F6rg?= Meier\" NIL \"joerg\" \"example.de"
	  "\")) ((\"=?iso-8859-1?q?J=F6rg?= Meier\" NIL \"joerg\" \"example"
	  ".de\")) ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL \"<prev@"
	  "example.de>\" \"<inner.1@example.de>\") (\"text\" \"plain\" (\"c"
	  "harset\" \"us-ascii\") NIL NIL \"7bit\" 20 1 NIL NIL NIL NIL) 8 "
	  "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)" },
	{ "lf_only.eml",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 5 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii"
	  "\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) \"mixed\" (\"boundary"
	  "\" \"q\") NIL NIL NIL)" },
	{ "missing_final_boundary.eml",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 3 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii"
	  "\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL) \"mixed\" (\"boundary"
	  "\" \"zz\") NIL NIL NIL)" },
	{ "boundary_in_preamble.eml",
	  "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"abc\") NIL NIL N"
	  "IL)" },
	{ "digest.eml",
	  "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 39 (NIL \"one\" (("
	  "NIL NIL \"d1\" \"example.com\")) ((NIL NIL \"d1\" \"example.com"
	  "\")) ((NIL NIL \"d1\" \"example.com\")) NIL NIL NIL NIL NIL) (\""
	  "text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0"
	  " NIL NIL NIL NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"chars"
	  "et\" \"us-ascii\") NIL NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"diges"
	  "t\" (\"boundary\" \"dg\") NIL NIL NIL)" },
	{ "eightbit.eml",
	  "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"8bit"
	  "\" 7 1 NIL NIL NIL NIL)" },
	{ "header_only.eml",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "0 0 NIL NIL NIL NIL)" },
	{ "dovecot_style.eml",
	  "((\"text\" \"x-custom\" (\"charset\" \"us-ascii\" \"q\" \"a\\\"b"
	  "\") \"<cid.1@example.net>\" \"a description\" \"7bit\" 5 1 \"MTI"
	  "zNDU2Nzg5MDEyMzQ1Ng==\" (\"inline\" (\"size\" \"3\")) (\"en\" \""
	  "de\") \"http://example.net/a.txt\")(\"message\" \"rfc822\" NIL N"
	  "IL NIL \"7bit\" 307 (NIL \"inner subject\" ((NIL NIL \"inner\" "
	  "\"example.net\")) ((NIL NIL \"inner\" \"example.net\")) ((NIL NI"
	  "L \"inner\" \"example.net\")) ((NIL NIL \"x1\" \"example.net\")("
	  "NIL NIL \"x2\" \"example.net\")) NIL NIL NIL NIL) ((\"text\" \"h"
	  "tml\" (\"charset\" \"us-ascii\") NIL NIL \"8bit\" 11 1 NIL NIL N"
	  "IL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \""
	  "7bit\" 8 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"alt"
	  "\") NIL NIL NIL) 17 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o"
	  "ne two\") NIL NIL NIL)" },
	{ "malformed_base64.eml",
	  "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 2"
	  "6 2 NIL NIL NIL NIL)" },
	{ "no_separator.eml",
	  "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "30 2 NIL NIL NIL NIL)" },};

static void
test_bodystructure_fixtures(void **state)
{
	struct fixture fx;
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bodystructures) / sizeof(bodystructures[0]);
	    i++) {
		load(&fx, bodystructures[i].file);
		buf_init(&b, 0);
		assert_int_equal(mime_bodystructure(fx.m, fx.m->root, true,
		    &b), 0);
		if (strcmp(str(&b), bodystructures[i].want) != 0)
			fail_msg("%s:\n got %s\nwant %s", bodystructures[i].file,
			    str(&b), bodystructures[i].want);
		buf_deinit(&b);
		unload(&fx);
	}
}

static const struct {
	const char	*file;
	const char	*want;
} envelopes[] = {
	{ "simple.eml",
	  "(\"Tue, 2 Jan 2024 10:00:00 +0100\" \"hello\" ((\"Alice\" NIL \""
	  "alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.co"
	  "m\")) ((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"bo"
	  "b\" \"example.org\")) NIL NIL NIL \"<simple.1@example.com>\")" },
	{ "alternative_in_mixed.eml",
	  "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"=?utf-8?q?Caf=C3=A9?= =?ut"
	  "f-8?b?IGF1IGxhaXQ=?=\" ((\"Joe Q. Public\" NIL \"joe\" \"example"
	  ".com\")) ((\"Joe Q. Public\" NIL \"joe\" \"example.com\")) ((\"J"
	  "oe Q. Public\" NIL \"joe\" \"example.com\")) ((NIL NIL \"a\" \"b"
	  ".example\")(NIL NIL \"Team\" NIL)(NIL NIL \"c\" \"d.example\")(N"
	  "IL NIL \"e\" \"f.example\")(NIL NIL NIL NIL)) ((NIL NIL \"undisc"
	  "losed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL \"<alt.1@examp"
	  "le.com>\")" },
	{ "rfc822_attachment.eml",
	  "(NIL \"fwd\" ((NIL NIL \"outer\" \"example.com\")) ((NIL NIL \"o"
	  "uter\" \"example.com\")) ((NIL NIL \"outer\" \"example.com\")) ("
	  "(NIL NIL \"inner-reader\" \"example.net\")) NIL NIL NIL NIL)" },
	{ "unterminated_ew.eml",
	  "(NIL \"=?utf-8?q?broken =?utf-8?b?QUJD?= tail =?x-unknown?q?abc?"
	  "=\" ((\"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=\" NIL \"e\" \"example."
	  "com\")) ((\"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=\" NIL \"e\" \"exam"
	  "ple.com\")) ((\"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=\" NIL \"e\" \""
	  "example.com\")) NIL NIL NIL NIL NIL)" },};

static void
test_envelope_fixtures(void **state)
{
	struct fixture fx;
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(envelopes) / sizeof(envelopes[0]); i++) {
		load(&fx, envelopes[i].file);
		buf_init(&b, 0);
		assert_int_equal(mime_envelope(fx.m, fx.m->root, &b), 0);
		if (strcmp(str(&b), envelopes[i].want) != 0)
			fail_msg("%s:\n got %s\nwant %s", envelopes[i].file,
			    str(&b), envelopes[i].want);
		buf_deinit(&b);
		unload(&fx);
	}
}

static void
test_body_not_extensible(void **state)
{
	struct fixture fx;
	struct buf b;

	(void)state;
	load(&fx, "dovecot_style.eml");
	buf_init(&b, 0);
	assert_int_equal(mime_bodystructure(fx.m, fx.m->root, false, &b), 0);
	assert_string_equal(str(&b),
	    "((\"text\" \"x-custom\" (\"charset\" \"us-ascii\" \"q\" "
	    "\"a\\\"b\") \"<cid.1@example.net>\" \"a description\" \"7bit\" "
	    "5 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 307 (NIL "
	    "\"inner subject\" ((NIL NIL \"inner\" \"example.net\")) ((NIL "
	    "NIL \"inner\" \"example.net\")) ((NIL NIL \"inner\" "
	    "\"example.net\")) ((NIL NIL \"x1\" \"example.net\")(NIL NIL "
	    "\"x2\" \"example.net\")) NIL NIL NIL NIL) ((\"text\" \"html\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"8bit\" 11 1)(\"text\" "
	    "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) "
	    "\"alternative\") 17) \"mixed\")");
	/* BODYSTRUCTURE of one part: the message/rfc822 part */
	buf_reset(&b);
	assert_int_equal(mime_bodystructure(fx.m, section(&fx, "2.2"), true,
	    &b), 0);
	assert_string_equal(str(&b), "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL)");
	buf_deinit(&b);
	unload(&fx);
}

static void
test_inner_envelope(void **state)
{
	struct fixture fx;
	const struct mime_part *p;
	struct buf b;

	(void)state;
	load(&fx, "rfc822_attachment.eml");
	p = section(&fx, "2");
	assert_true((p->flags & MIME_PART_MESSAGE) != 0);
	assert_non_null(p->children);
	buf_init(&b, 0);
	assert_int_equal(mime_envelope(fx.m, p->children, &b), 0);
	assert_string_equal(str(&b),
	    "(\"Wed, 3 Jan 2024 12:00:00 +0000\" \"inner\" "
	    "((\"=?iso-8859-1?q?J=F6rg?= Meier\" NIL \"joerg\" "
	    "\"example.de\")) ((\"=?iso-8859-1?q?J=F6rg?= Meier\" NIL "
	    "\"joerg\" \"example.de\")) ((\"=?iso-8859-1?q?J=F6rg?= Meier\" "
	    "NIL \"joerg\" \"example.de\")) ((\"Bob\" NIL \"bob\" "
	    "\"example.org\")) NIL NIL \"<prev@example.de>\" "
	    "\"<inner.1@example.de>\")");
	buf_deinit(&b);
	unload(&fx);
}

/* ---- offsets and sections ---- */

static void
test_offsets_alternative_in_mixed(void **state)
{
	struct fixture fx;
	const struct mime_part *p;

	(void)state;
	load(&fx, "alternative_in_mixed.eml");
	assert_int_equal(fx.m->nparts, 5);
	p = fx.m->root;
	assert_int_equal(p->hdr_off, 0);
	assert_int_equal(p->body_off, p->hdr_len);
	assert_memory_equal(fx.data + p->hdr_len - 4, "\r\n\r\n", 4);
	assert_int_equal(p->body_off + p->body_len, fx.len);
	assert_string_equal(p->boundary, "outer");
	p = section(&fx, "1");
	assert_string_equal(p->subtype, "alternative");
	assert_int_equal(p->nchildren, 2);
	assert_slice(&fx, p->hdr_off, p->hdr_len, "Content-Type: multipart/"
	    "alternative; boundary=inner\r\n\r\n");
	p = section(&fx, "1.1");
	assert_int_equal(p->cte, MIME_CTE_QP);
	assert_slice(&fx, p->body_off, p->body_len,
	    "Caf=C3=A9 au lait=\r\n, s'il vous pla=C3=AEt.");
	p = section(&fx, "1.2");
	assert_string_equal(p->type, "text");
	assert_string_equal(p->subtype, "html");
	p = section(&fx, "2");
	assert_int_equal(p->cte, MIME_CTE_BASE64);
	assert_slice(&fx, p->body_off, p->body_len, "AAEC/w==");
	assert_memory_equal(fx.data + p->hdr_off,
	    "Content-Type: application/octet-stream", 38);
	assert_null(mime_part_by_section(fx.m, "3", 1));
	assert_null(mime_part_by_section(fx.m, "0", 1));
	assert_null(mime_part_by_section(fx.m, "1.", 2));
	assert_null(mime_part_by_section(fx.m, "1.3", 3));
	assert_null(mime_part_by_section(fx.m, "2.1", 3));
	assert_true(mime_part_by_section(fx.m, "", 0) == fx.m->root);
	unload(&fx);
}

static void
test_sections_through_message(void **state)
{
	struct fixture fx;
	const struct mime_part *p, *msg;

	(void)state;
	load(&fx, "rfc822_attachment.eml");
	p = section(&fx, "2");
	msg = p->children;
	assert_non_null(msg);
	assert_string_equal(p->description, "forwarded");
	/* 2.HEADER and 2.TEXT are the encapsulated header and body */
	assert_int_equal(msg->hdr_off, p->body_off);
	assert_memory_equal(fx.data + msg->hdr_off, "From: =?iso", 11);
	assert_slice(&fx, msg->body_off, msg->body_len,
	    "inner body\r\nline two");
	/* a non-multipart message: 2.1 is the message's own body */
	assert_true(section(&fx, "2.1") == msg);
	assert_null(mime_part_by_section(fx.m, "2.2", 3));
	/* single-part root: "1" is the root */
	unload(&fx);
	load(&fx, "simple.eml");
	assert_true(section(&fx, "1") == fx.m->root);
	assert_null(mime_part_by_section(fx.m, "2", 1));
	assert_slice(&fx, fx.m->root->body_off, fx.m->root->body_len,
	    "Hello world\r\n");
	unload(&fx);
}

static void
test_lf_only_sizes(void **state)
{
	struct fixture fx;
	const struct mime_part *p;

	(void)state;
	load(&fx, "lf_only.eml");
	p = section(&fx, "2");
	assert_slice(&fx, p->body_off, p->body_len, "second\nline");
	assert_int_equal(p->body_vsize, 12);
	assert_int_equal(p->body_lines, 1);
	p = section(&fx, "1");
	/* a part whose header is only the blank line */
	assert_int_equal(p->hdr_len, 1);
	assert_int_equal(p->nheaders, 0);
	assert_string_equal(p->type, "text");
	unload(&fx);
}

/* ---- malformed structure ---- */

static void
test_missing_final_boundary(void **state)
{
	struct fixture fx;

	(void)state;
	load(&fx, "missing_final_boundary.eml");
	assert_true((fx.m->root->flags & MIME_PART_NO_END) != 0);
	assert_int_equal(fx.m->root->nchildren, 2);
	assert_slice(&fx, section(&fx, "2")->body_off,
	    section(&fx, "2")->body_len, "two\r\n");
	unload(&fx);
}

static void
test_boundary_lookalikes_in_preamble(void **state)
{
	struct fixture fx;

	(void)state;
	load(&fx, "boundary_in_preamble.eml");
	assert_int_equal(fx.m->root->nchildren, 1);
	assert_slice(&fx, section(&fx, "1")->body_off,
	    section(&fx, "1")->body_len, "part");
	unload(&fx);
}

static void
test_depth_bomb_is_bounded(void **state)
{
	struct fixture fx;
	const struct mime_part *p;
	unsigned depth = 0;
	struct buf b;

	(void)state;
	load(&fx, "depth_bomb.eml");
	assert_true((fx.m->flags & MIME_MSG_DEEP) != 0);
	for (p = fx.m->root; p->children != NULL; p = p->children)
		depth++;
	assert_int_equal(depth, MIME_DEPTH_MAX);
	assert_true((p->flags & MIME_PART_OPAQUE) != 0);
	assert_string_equal(p->type, "multipart");
	buf_init(&b, 0);
	assert_int_equal(mime_bodystructure(fx.m, fx.m->root, true, &b), 0);
	buf_deinit(&b);
	unload(&fx);
}

static void
test_header_and_body_oddities(void **state)
{
	struct fixture fx;

	(void)state;
	load(&fx, "header_only.eml");
	assert_true((fx.m->root->flags & MIME_PART_NO_SEPARATOR) != 0);
	assert_int_equal(fx.m->root->nheaders, 2);
	assert_int_equal(fx.m->root->body_len, 0);
	assert_int_equal(fx.m->root->hdr_len, fx.len);
	unload(&fx);

	load(&fx, "no_separator.eml");
	assert_int_equal(fx.m->root->nheaders, 1);
	assert_slice(&fx, fx.m->root->body_off, fx.m->root->body_len,
	    "this line is body text\r\nmore\r\n");
	unload(&fx);

	load(&fx, "nul_bytes.eml");
	assert_true((fx.m->root->flags & MIME_PART_HAS_NUL) != 0);
	assert_int_equal(fx.m->root->body_len, 15);
	unload(&fx);

	load(&fx, "eightbit.eml");
	assert_true((fx.m->root->flags & MIME_PART_8BIT) != 0);
	unload(&fx);
}

static void
test_digest_default_type(void **state)
{
	struct fixture fx;

	(void)state;
	load(&fx, "digest.eml");
	assert_string_equal(section(&fx, "1")->type, "message");
	assert_true((section(&fx, "1")->flags & MIME_PART_MESSAGE) != 0);
	assert_string_equal(section(&fx, "2")->subtype, "plain");
	unload(&fx);
}

/* A message built in memory: many parts, a long run of "--" lines and
 * one huge header, to check the limits and that scanning is linear. */
static void
test_part_limit_and_linear_scan(void **state)
{
	struct buf msg, b;
	struct mime_message *m;
	clock_t t0;
	size_t i;

	(void)state;
	buf_init(&msg, 0);
	assert_int_equal(buf_append_str(&msg,
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (i = 0; i < MIME_PARTS_MAX + 500; i++)
		assert_int_equal(buf_append_str(&msg, "--x\r\n\r\np\r\n"), 0);
	for (i = 0; i < 200000; i++)
		assert_int_equal(buf_append_str(&msg, "--xy\r\n"), 0);
	assert_int_equal(buf_append_str(&msg, "--x--\r\n"), 0);
	t0 = clock();
	m = mime_parse(msg.data, msg.len);
	assert_true((m->flags & MIME_MSG_TRUNCATED) != 0);
	assert_true(m->nparts <= MIME_PARTS_MAX);
	assert_false((m->root->flags & MIME_PART_NO_END) != 0);
	buf_init(&b, 0);
	assert_int_equal(mime_bodystructure(m, m->root, true, &b), 0);
	buf_deinit(&b);
	mime_message_free(&m);
	/* generous: the parse takes milliseconds */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);

	/* a bounded buffer refuses instead of growing */
	m = mime_parse(msg.data, 100);
	buf_init(&b, 10);
	assert_int_equal(mime_bodystructure(m, m->root, true, &b), -1);
	buf_deinit(&b);
	mime_message_free(&m);
	mime_message_free(&m);	/* NULL-safe */
	buf_deinit(&msg);

	m = mime_parse(NULL, 0);
	assert_int_equal(m->nparts, 1);
	mime_message_free(&m);
}

/* ---- parameters ---- */

static void
test_rfc2231_params(void **state)
{
	struct fixture fx;
	const struct mime_param *pp;
	const struct mime_part *p;

	(void)state;
	load(&fx, "alternative_in_mixed.eml");
	p = section(&fx, "2");
	assert_string_equal(p->disposition, "attachment");
	pp = mime_param_find(p->disp_params, p->ndisp_params, "filename");
	assert_non_null(pp);
	assert_string_equal(pp->value, "\xe2\x82\xac.txt");
	assert_string_equal(pp->wire_name, "filename*");
	assert_string_equal(pp->wire_value, "utf-8''%E2%82%AC.txt");
	assert_string_equal(pp->charset, "utf-8");
	assert_null(pp->language);
	unload(&fx);

	load(&fx, "rfc2231_name.eml");
	p = fx.m->root;
	pp = mime_param_find(p->params, p->nparams, "name");
	assert_non_null(pp);
	assert_string_equal(pp->value, "\xc3\xa4rger und mehr.pdf");
	assert_string_equal(pp->language, "de");
	assert_string_equal(pp->wire_value,
	    "iso-8859-1'de'%E4rger%20und%20mehr.pdf");
	/* RFC 2047 in a quoted parameter: wrong, common, decoded */
	pp = mime_param_find(p->disp_params, p->ndisp_params, "filename");
	assert_non_null(pp);
	assert_string_equal(pp->value, "\xc3\xa4rger.pdf");
	assert_string_equal(pp->wire_value, "=?utf-8?b?w6RyZ2VyLnBkZg==?=");
	unload(&fx);
}

static const struct {
	const char	*name;
	const char	*hdr;
	const char	*type;		/* "type/subtype" */
	const char	*param;
	const char	*value;
	const char	*boundary;
} content_types[] = {
	{ "unquoted_boundary_with_equals",
	  "Content-Type: Multipart/Mixed; BOUNDARY=----=_Part_1\r\n\r\n",
	  "multipart/mixed", "boundary", "----=_Part_1", "----=_Part_1" },
	{ "comments_and_folding",
	  "Content-Type: text/plain (a comment)\r\n ; charset = \"utf-8\"\r\n\r\n",
	  "text/plain", "charset", "utf-8", NULL },
	{ "invalid_type_defaults",
	  "Content-Type: garbage\r\n\r\n", "text/plain", NULL, NULL, NULL },
	{ "empty_boundary_ignored",
	  "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n",
	  "multipart/mixed", "boundary", "", NULL },
	{ "sections_out_of_order",
	  "Content-Type: a/b; n*1=\"B\"; n*0=\"A\"; n*2=C\r\n\r\n",
	  "a/b", "n", "ABC", NULL },
	{ "first_duplicate_wins",
	  "Content-Type: a/b; x=1; x=2\r\n\r\n", "a/b", "x", "1", NULL },
	{ "extended_without_sections",
	  "Content-Type: a/b; t*=us-ascii'en'a%20b\r\n\r\n",
	  "a/b", "t", "a b", NULL },
	{ "quoted_pair_and_semicolon_in_quotes",
	  "Content-Type: a/b; q=\"x;\\\"y\"; r=2\r\n\r\n",
	  "a/b", "q", "x;\"y", NULL },
};

static void
test_content_type_table(void **state)
{
	const struct mime_param *pp;
	struct mime_message *m;
	char t[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(content_types) / sizeof(content_types[0]);
	    i++) {
		m = mime_parse((const uint8_t *)content_types[i].hdr,
		    strlen(content_types[i].hdr));
		assert_true(snprintf(t, sizeof(t), "%s/%s", m->root->type,
		    m->root->subtype) > 0);
		if (strcmp(t, content_types[i].type) != 0)
			fail_msg("%s: type %s", content_types[i].name, t);
		if (content_types[i].param != NULL) {
			pp = mime_param_find(m->root->params, m->root->nparams,
			    content_types[i].param);
			if (pp == NULL ||
			    strcmp(pp->value, content_types[i].value) != 0)
				fail_msg("%s: param %s", content_types[i].name,
				    pp == NULL ? "missing" : pp->value);
		}
		if (content_types[i].boundary == NULL)
			assert_null(m->root->boundary);
		else
			assert_string_equal(m->root->boundary,
			    content_types[i].boundary);
		mime_message_free(&m);
	}
}

/* ---- RFC 2047 ---- */

static const struct {
	const char	*name;
	const char	*in;
	const char	*want;
} words[] = {
	{ "adjacent_words_join", "=?utf-8?q?Caf=C3=A9?= =?utf-8?b?IGF1IGxhaXQ=?=",
	  "Caf\xc3\xa9 au lait" },
	{ "folded_adjacent_words_join", "=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "ab" },
	{ "text_then_word_keeps_space", "Re: =?utf-8?q?x?= y", "Re: x y" },
	{ "q_underscore_is_space", "=?iso-8859-1?q?J=F6rg_M?=",
	  "J\xc3\xb6rg M" },
	{ "lowercase_encoding_letter", "=?UTF-8?B?w6k=?=", "\xc3\xa9" },
	{ "split_multibyte_across_words", "=?utf-8?b?4oI=?= =?utf-8?b?rA==?=",
	  "\xe2\x82\xac" },
	{ "windows_1252_euro", "=?windows-1252?q?=80?=", "\xe2\x82\xac" },
	{ "koi8_r", "=?koi8-r?b?8NLJ18XU?=",
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
	{ "iso_8859_2", "=?iso-8859-2?q?=B1?=", "\xc4\x85" },
	{ "rfc2231_language_in_charset", "=?us-ascii*en?q?hi?=", "hi" },
	{ "unknown_charset_kept", "=?x-unknown?q?abc?= d",
	  "=?x-unknown?q?abc?= d" },
	{ "unterminated_kept", "=?utf-8?q?broken tail", "=?utf-8?q?broken tail" },
	{ "bad_encoding_letter_kept", "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "invalid_utf8_replaced", "=?utf-8?q?a=FFb?=", "a\xef\xbf\xbd" "b" },
	{ "raw_8bit_utf8_passes", "gr\xc3\xbc\xc3\x9f", "gr\xc3\xbc\xc3\x9f" },
	{ "empty", "", "" },
};

static void
test_header_decode_table(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		buf_init(&b, 0);
		assert_int_equal(mime_header_decode((const uint8_t *)words[i].in,
		    strlen(words[i].in), &b), 0);
		if (strcmp(str(&b), words[i].want) != 0)
			fail_msg("%s: got '%s'", words[i].name, str(&b));
		buf_deinit(&b);
	}
}

static void
test_header_lookup_and_unfold(void **state)
{
	static const char msg[] = "Subject: a\r\n\tb\r\nX-A: 1\r\n"
	    "x-a: 2\r\nBad Name : v\r\n\r\nbody";
	const struct mime_header *h;
	struct mime_message *m;
	struct buf b;

	(void)state;
	m = mime_parse((const uint8_t *)msg, sizeof(msg) - 1);
	h = mime_header_find(m->root, "SUBJECT");
	assert_non_null(h);
	assert_int_equal(h->value_len, 5);
	assert_memory_equal(h->value, "a\r\n\tb", 5);
	assert_int_equal(h->off, 0);
	assert_int_equal(h->len, 16);
	buf_init(&b, 0);
	assert_int_equal(mime_header_unfold(h->value, h->value_len, &b), 0);
	assert_string_equal(str(&b), "a\tb");
	buf_deinit(&b);
	h = mime_header_find_nth(m->root, "x-a", 1);
	assert_non_null(h);
	assert_memory_equal(h->value, "2", 1);
	assert_null(mime_header_find_nth(m->root, "x-a", 2));
	/* an invalid name does not end the header */
	assert_non_null(mime_header_find(m->root, "bad name"));
	assert_slice(&(struct fixture){ (uint8_t *)(uintptr_t)msg, 0, m },
	    m->root->body_off, m->root->body_len, "body");
	mime_message_free(&m);
}

/* ---- addresses ---- */

static const struct {
	const char	*name;
	const char	*in;
	const char	*want;	/* entries as name|route|mailbox|host; */
} addrs[] = {
	{ "plain", "a@b.example", "-|-|a|b.example;" },
	{ "name_addr", "\"Doe, John\" <jd@x.example>",
	  "Doe, John|-|jd|x.example;" },
	{ "phrase_with_dot", "John Q. Public <jqp@x.example>",
	  "John Q. Public|-|jqp|x.example;" },
	{ "comment_as_name", "jd@x.example (John Doe)",
	  "John Doe|-|jd|x.example;" },
	{ "encoded_name_kept", "=?utf-8?q?J=C3=B6rg?= <j@x.example>",
	  "=?utf-8?q?J=C3=B6rg?=|-|j|x.example;" },
	{ "list_with_empty_members", "a@x, , b@y", "-|-|a|x;-|-|b|y;" },
	{ "group", "G: a@x, B <b@y>;, c@z",
	  "-|-|G|-;-|-|a|x;B|-|b|y;-|-|-|-;-|-|c|z;" },
	{ "empty_group", "undisclosed-recipients:;",
	  "-|-|undisclosed-recipients|-;-|-|-|-;" },
	{ "route", "<@r1.example,@r2.example:u@h.example>",
	  "-|@r1.example,@r2.example|u|h.example;" },
	{ "missing_domain", "user", "-|-|user|MISSING_DOMAIN;" },
	{ "missing_mailbox", "Name <@h.example>",
	  "Name|-|MISSING_MAILBOX|h.example;" },
	{ "quoted_local", "\"a b\"@x.example", "-|-|a b|x.example;" },
	{ "domain_literal", "u@[192.0.2.1]", "-|-|u|[192.0.2.1];" },
	{ "obs_dots_with_space", "a . b @ x . example",
	  "-|-|a.b|x.example;" },
	{ "unclosed_angle", "N <a@b", "N|-|a|b;" },
	{ "garbage", ">>> ;;; <<<", "" },
	{ "unclosed_comment_and_quote", "a@b (x, \"y", "x, \"y|-|a|b;" },
};

static void
test_address_table(void **state)
{
	struct mime_addr *list, *a;
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		list = mime_addr_parse((const uint8_t *)addrs[i].in,
		    strlen(addrs[i].in));
		buf_init(&b, 0);
		for (a = list; a != NULL; a = a->next)
			assert_int_equal(buf_printf(&b, "%s|%s|%s|%s;",
			    a->name ? a->name : "-", a->route ? a->route : "-",
			    a->mailbox ? a->mailbox : "-",
			    a->host ? a->host : "-"), 0);
		if (strcmp(str(&b), addrs[i].want) != 0)
			fail_msg("%s: got '%s'", addrs[i].name, str(&b));
		buf_deinit(&b);
		mime_addr_free(&list);
		assert_null(list);
	}
}

static void
test_envelope_defaults_and_quoting(void **state)
{
	static const char msg[] = "From: a@x\r\nSender:\r\nReply-To: r@y\r\n"
	    "Subject: say \"hi\" \\ \xc3\xa9\r\n\r\n";
	struct mime_message *m;
	struct buf b;

	(void)state;
	m = mime_parse((const uint8_t *)msg, sizeof(msg) - 1);
	buf_init(&b, 0);
	assert_int_equal(mime_envelope(m, m->root, &b), 0);
	assert_string_equal(str(&b), "(NIL {13}\r\nsay \"hi\" \\ \xc3\xa9 "
	    "((NIL NIL \"a\" \"x\")) ((NIL NIL \"a\" \"x\")) "
	    "((NIL NIL \"r\" \"y\")) NIL NIL NIL NIL NIL)");
	buf_deinit(&b);
	mime_message_free(&m);
}

/* ---- IMAP strings ---- */

static const struct {
	const char	*in;
	size_t		 len;
	const char	*want;
} nstrings[] = {
	{ "plain", 5, "\"plain\"" },
	{ "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
	{ "", 0, "\"\"" },
	{ "a\r\nb", 4, "{4}\r\na\r\nb" },
	{ "\xc3\xa9", 2, "{2}\r\n\xc3\xa9" },
	{ "a\0b", 3, "\"ab\"" },
	{ "\"\0\xff", 3, "{2}\r\n\"\xff" },
	{ NULL, 0, "NIL" },
};

static void
test_imap_nstring_table(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nstrings) / sizeof(nstrings[0]); i++) {
		buf_init(&b, 0);
		assert_int_equal(mime_imap_nstring(nstrings[i].in,
		    nstrings[i].len, &b), 0);
		assert_string_equal(str(&b), nstrings[i].want);
		buf_deinit(&b);
	}
}

/* ---- content decoding ---- */

static const struct {
	const char	*name;
	const char	*in;
	const char	*want;
	bool		 bad;
} base64s[] = {
	{ "padded", "aGVsbG8=", "hello", false },
	{ "lines", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=", "hello world", false },
	{ "unpadded_tail", "aGVsbG8", "hello", false },
	{ "junk_skipped", "aGVs*bG8g!d29ybGQ=", "hello world", true },
	{ "concatenated_blocks", "aGk=aGk=", "hihi", false },
	{ "lone_sextet", "aGVsbG8gd", "hello ", true },
	{ "empty", "", "", false },
};

static void
test_base64_table(void **state)
{
	struct buf b;
	bool bad;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(base64s) / sizeof(base64s[0]); i++) {
		buf_init(&b, 0);
		bad = false;
		assert_int_equal(mime_base64_decode(
		    (const uint8_t *)base64s[i].in, strlen(base64s[i].in), &b,
		    &bad), 0);
		if (strcmp(str(&b), base64s[i].want) != 0 ||
		    bad != base64s[i].bad)
			fail_msg("%s: got '%s' bad=%d", base64s[i].name,
			    str(&b), bad);
		buf_deinit(&b);
	}
}

static const struct {
	const char	*name;
	const char	*in;
	const char	*want;
	bool		 bad;
} qps[] = {
	{ "hex", "Caf=C3=A9", "Caf\xc3\xa9", false },
	{ "lowercase_hex", "=c3=a9", "\xc3\xa9", false },
	{ "soft_break_crlf", "ab=\r\ncd\r\n", "abcd\r\n", false },
	{ "soft_break_lf_trailing_blank", "ab= \ncd", "abcd", false },
	{ "trailing_blanks_dropped", "ab \t\r\ncd", "ab\r\ncd", false },
	{ "bad_escape_kept", "a=ZZb=", "a=ZZb", true },
	{ "equals_at_end_of_text", "x=4", "x=4", true },
};

static void
test_qp_table(void **state)
{
	struct buf b;
	bool bad;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(qps) / sizeof(qps[0]); i++) {
		buf_init(&b, 0);
		bad = false;
		assert_int_equal(mime_qp_decode((const uint8_t *)qps[i].in,
		    strlen(qps[i].in), false, &b, &bad), 0);
		if (strcmp(str(&b), qps[i].want) != 0 || bad != qps[i].bad)
			fail_msg("%s: got '%s' bad=%d", qps[i].name, str(&b),
			    bad);
		buf_deinit(&b);
	}
}

static void
test_charsets(void **state)
{
	static const uint8_t latin1[] = { 'g', 'r', 0xfc, 0xdf, 'e' };
	struct buf b;

	(void)state;
	assert_true(mime_charset_known("UTF-8"));
	assert_true(mime_charset_known("ISO-8859-15"));
	assert_true(mime_charset_known("cp1251"));
	assert_true(mime_charset_known("koi8-r"));
	assert_false(mime_charset_known("iso-8859-12"));
	assert_false(mime_charset_known("iso-2022-cn-ext"));
	assert_false(mime_charset_known(""));
	buf_init(&b, 0);
	assert_int_equal(mime_charset_to_utf8("latin1", latin1,
	    sizeof(latin1), &b), 0);
	assert_string_equal(str(&b), "gr\xc3\xbc\xc3\x9f" "e");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("x-mac-unknown", latin1,
	    sizeof(latin1), &b), 1);
	assert_int_equal(b.len, sizeof(latin1));
	buf_reset(&b);
	/* 0x81 is undefined in windows-1252 */
	assert_int_equal(mime_charset_to_utf8("windows-1252",
	    (const uint8_t *)"a\x81" "b", 3, &b), 0);
	assert_string_equal(str(&b), "a\xef\xbf\xbd" "b");
	buf_reset(&b);
	/* overlong and surrogate UTF-8 are replaced */
	assert_int_equal(mime_charset_to_utf8("utf-8",
	    (const uint8_t *)"\xc0\xaf\xed\xa0\x80", 5, &b), 0);
	assert_string_equal(str(&b), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	buf_deinit(&b);
}

static void
test_html_to_text(void **state)
{
	static const char html[] = "<html><head><title>T</title><style>"
	    "p{x:1}</style></head><body><!-- c --><p class=\"a>b\">A &amp; "
	    "B&nbsp;&lt;&#233;&#x20AC;&bogus;</p><script>if (a<b) x()"
	    "</script><div>C</div>\n\n  D</body></html>";
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(mime_html_to_text((const uint8_t *)html,
	    strlen(html), &b), 0);
	assert_string_equal(str(&b),
	    "T\nA & B <\xc3\xa9\xe2\x82\xac&bogus;\nC\nD");
	buf_deinit(&b);
}

static void
test_part_text_and_decode(void **state)
{
	struct fixture fx;
	struct buf b;
	bool bad;

	(void)state;
	load(&fx, "alternative_in_mixed.eml");
	buf_init(&b, 0);
	assert_int_equal(mime_part_text(fx.m, section(&fx, "1.1"), &b), 0);
	assert_string_equal(str(&b),
	    "Caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet.");
	buf_reset(&b);
	assert_int_equal(mime_part_text(fx.m, section(&fx, "1.2"), &b), 0);
	assert_string_equal(str(&b), "Caf\xc3\xa9 & cr\xc3\xa8me br&#x "
	    "FB;l\xc3\xa9" "e\ndone");
	buf_reset(&b);
	assert_int_equal(mime_part_text(fx.m, section(&fx, "2"), &b), 1);
	assert_int_equal(b.len, 0);
	assert_int_equal(mime_part_text(fx.m, fx.m->root, &b), 1);
	bad = false;
	assert_int_equal(mime_part_decode(fx.m, section(&fx, "2"), &b, &bad),
	    0);
	assert_false(bad);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\x00\x01\x02\xff", 4);
	buf_deinit(&b);
	unload(&fx);

	load(&fx, "malformed_base64.eml");
	buf_init(&b, 0);
	bad = false;
	assert_int_equal(mime_part_decode(fx.m, fx.m->root, &b, &bad), 0);
	assert_true(bad);
	assert_string_equal(str(&b), "hello world!!");
	buf_deinit(&b);
	unload(&fx);

	load(&fx, "eightbit.eml");
	buf_init(&b, 0);
	assert_int_equal(mime_part_text(fx.m, fx.m->root, &b), 0);
	assert_string_equal(str(&b), "gr\xc3\xbc\xc3\x9f" "e\r\n");
	buf_deinit(&b);
	unload(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodystructure_fixtures),
		cmocka_unit_test(test_envelope_fixtures),
		cmocka_unit_test(test_body_not_extensible),
		cmocka_unit_test(test_inner_envelope),
		cmocka_unit_test(test_offsets_alternative_in_mixed),
		cmocka_unit_test(test_sections_through_message),
		cmocka_unit_test(test_lf_only_sizes),
		cmocka_unit_test(test_missing_final_boundary),
		cmocka_unit_test(test_boundary_lookalikes_in_preamble),
		cmocka_unit_test(test_depth_bomb_is_bounded),
		cmocka_unit_test(test_header_and_body_oddities),
		cmocka_unit_test(test_digest_default_type),
		cmocka_unit_test(test_part_limit_and_linear_scan),
		cmocka_unit_test(test_rfc2231_params),
		cmocka_unit_test(test_content_type_table),
		cmocka_unit_test(test_header_decode_table),
		cmocka_unit_test(test_header_lookup_and_unfold),
		cmocka_unit_test(test_address_table),
		cmocka_unit_test(test_envelope_defaults_and_quoting),
		cmocka_unit_test(test_imap_nstring_table),
		cmocka_unit_test(test_base64_table),
		cmocka_unit_test(test_qp_table),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_html_to_text),
		cmocka_unit_test(test_part_text_and_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
