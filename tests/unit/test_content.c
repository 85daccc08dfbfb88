/* test_content: content_scan (src/filter/content.c) and the zip reader
 * under it. Zips are built here (stored, deflated, encrypted, nested,
 * without a central directory, with lying sizes, with a prefix); the
 * limits are shown to stop the walk: a 64 MB member of zeros under a 4 MB
 * budget, nesting and part counts, many directory entries naming one
 * stream of empty blocks (work that decodes to nothing), and the type
 * detection table. gzip files and tar archives are built here too: an
 * exe in a .tar.gz, FNAME and the names taken from the outer one,
 * several members, truncation, a gzip bomb, gzips in gzips, tars whose
 * sizes lie, damaged blocks, GNU long names and pax records, each also
 * fed to the readers one octet at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "content.h"
#include "fname.h"
#include "gzip.h"
#include "tar.h"
#include "zip.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define OUT_MAX (256u * 1024 * 1024)

struct member_spec {
	const char	*name;
	const uint8_t	*data;
	size_t		 len;
	bool		 deflate;
	bool		 encrypted;
	bool		 lie;		/* declare sizes of 1 */
};

static void
put16(struct buf *b, unsigned v)
{
	uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	assert_int_equal(buf_append(b, p, 2), 0);
}

static void
put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

/* Deflate p into out through z (initialised), and end z. */
static void
deflate_all(z_stream *z, const uint8_t *p, size_t len, struct buf *out)
{
	uint8_t win[4096];
	int r;

	z->next_in = (Bytef *)(uintptr_t)p;
	z->avail_in = (uInt)len;
	do {
		z->next_out = win;
		z->avail_out = sizeof(win);
		r = deflate(z, Z_FINISH);
		assert_true(r == Z_OK || r == Z_STREAM_END);
		assert_int_equal(buf_append(out, win, sizeof(win) -
		    z->avail_out), 0);
	} while (r != Z_STREAM_END);
	deflateEnd(z);
}

static void
raw_deflate(const uint8_t *p, size_t len, struct buf *out)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	deflate_all(&z, p, len, out);
}

/* A zip of the members; central is false: local headers only. */
static void
build_zip(const struct member_spec *m, size_t n, bool central,
    struct buf *out)
{
	struct buf data, cd;
	uint32_t offs[16], csz[16];
	size_t i;

	assert_true(n <= 16);
	buf_init(&cd, 0);
	for (i = 0; i < n; i++) {
		buf_init(&data, 0);
		if (m[i].deflate)
			raw_deflate(m[i].data, m[i].len, &data);
		else if (m[i].len > 0)
			assert_int_equal(buf_append(&data, m[i].data,
			    m[i].len), 0);
		offs[i] = (uint32_t)out->len;
		csz[i] = (uint32_t)data.len;
		put32(out, 0x04034b50);
		put16(out, 20);
		put16(out, m[i].encrypted ? 1 : 0);
		put16(out, m[i].deflate ? 8 : 0);
		put32(out, 0);
		put32(out, (uint32_t)crc32(0, m[i].data, (uInt)m[i].len));
		put32(out, m[i].lie ? 1 : csz[i]);
		put32(out, m[i].lie ? 1 : (uint32_t)m[i].len);
		put16(out, (unsigned)strlen(m[i].name));
		put16(out, 0);
		assert_int_equal(buf_append_str(out, m[i].name), 0);
		assert_int_equal(buf_append(out, data.data, data.len), 0);
		buf_deinit(&data);
	}
	if (!central) {
		buf_deinit(&cd);
		return;
	}
	for (i = 0; i < n; i++) {
		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, m[i].encrypted ? 1 : 0);
		put16(&cd, m[i].deflate ? 8 : 0);
		put32(&cd, 0);
		put32(&cd, (uint32_t)crc32(0, m[i].data, (uInt)m[i].len));
		put32(&cd, m[i].lie ? 1 : csz[i]);
		put32(&cd, m[i].lie ? 1 : (uint32_t)m[i].len);
		put16(&cd, (unsigned)strlen(m[i].name));
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, offs[i]);
		assert_int_equal(buf_append_str(&cd, m[i].name), 0);
	}
	i = out->len;
	assert_int_equal(buf_append(out, cd.data, cd.len), 0);
	put32(out, 0x06054b50);
	put16(out, 0);
	put16(out, 0);
	put16(out, (unsigned)n);
	put16(out, (unsigned)n);
	put32(out, (uint32_t)cd.len);
	put32(out, (uint32_t)i);
	put16(out, 0);
	buf_deinit(&cd);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
put_base64(struct buf *out, const uint8_t *p, size_t len)
{
	size_t i, col = 0;
	uint32_t v;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		assert_int_equal(buf_printf(out, "%c%c%c%c",
		    b64chars[v >> 18 & 63], b64chars[v >> 12 & 63],
		    i + 1 < len ? b64chars[v >> 6 & 63] : '=',
		    i + 2 < len ? b64chars[v & 63] : '='), 0);
		if ((col += 4) >= 76) {
			assert_int_equal(buf_append_str(out, "\r\n"), 0);
			col = 0;
		}
	}
	assert_int_equal(buf_append_str(out, "\r\n"), 0);
}

/* A message with a text part and one base64 attachment. */
static void
build_message(const char *disposition, const uint8_t *p, size_t len,
    struct buf *out)
{
	assert_int_equal(buf_append_str(out, "From: a@example.org\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n"
	    "--xx\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	    "--xx\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n"), 0);
	assert_int_equal(buf_printf(out, "Content-Disposition: %s\r\n\r\n",
	    disposition), 0);
	put_base64(out, p, len);
	assert_int_equal(buf_append_str(out, "--xx--\r\n"), 0);
}

static struct content_info *
scan(const struct buf *msg, uint64_t max_decoded, unsigned depth,
    unsigned parts)
{
	struct content_limits lim;

	content_limits_default(&lim);
	if (max_decoded > 0)
		lim.max_decoded = max_decoded;
	if (depth > 0)
		lim.max_depth = depth;
	if (parts > 0)
		lim.max_parts = parts;
	return content_scan(msg->data, msg->len, &lim);
}

static const struct content_part *
find(const struct content_info *ci, const char *name)
{
	size_t i;

	for (i = 0; i < ci->nparts; i++)
		if (strcmp(ci->parts[i].name, name) == 0)
			return &ci->parts[i];
	return NULL;
}

static void
test_detect_table(void **state)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ "", 0, "empty" },
		{ "MZ\x90\x00\x03", 5, "exe" },
		{ "MZ is a text line", 17, "text" },
		{ "\x7f" "ELF\x02\x01", 6, "elf" },
		{ "\xcf\xfa\xed\xfe\x07", 5, "macho" },
		{ "\xca\xfe\xba\xbe\x00\x00\x00\x02", 8, "macho" },
		{ "\xca\xfe\xba\xbe\x00\x00\x00\x34", 8, "unknown" },
		{ "PK\x03\x04", 4, "zip" },
		{ "Rar!\x1a\x07\x00", 7, "rar" },
		{ "7z\xbc\xaf\x27\x1c", 6, "7z" },
		{ "\x1f\x8b\x08", 3, "gzip" },
		{ "tar\0", 4, "unknown" },	/* a header: test_tar_* */
		{ "%PDF-1.7\n", 9, "pdf" },
		{ "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "ole" },
		{ "#!/bin/sh\n", 10, "script" },
		{ "  \r\n<!DOCTYPE HTML>", 19, "html" },
		{ "<Script>alert(1)", 16, "html" },
		{ "plain words\r\n\tand more", 22, "text" },
		{ "bin\x00\x01", 5, "unknown" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		assert_string_equal(content_detect((const uint8_t *)
		    cases[i].in, cases[i].len), cases[i].want);
}

static void
test_parts_names_hashes(void **state)
{
	/* SHA-256("abc"), FIPS 180-2 B.1 */
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41,
		0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3,
		0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
		0x15, 0xad };
	struct content_info *ci;
	const struct content_part *p;
	struct buf msg;

	(void)state;
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename*=utf-8''na%C3%AFve%20file.EXE",
	    (const uint8_t *)"abc", 3, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_int_equal(ci->nparts, 2);
	assert_string_equal(ci->parts[0].type, "text/plain");
	assert_string_equal(ci->parts[0].detected, "text");
	assert_false(ci->parts[0].attachment);
	p = find(ci, "na\xc3\xafve file.EXE");
	assert_non_null(p);
	assert_true(p->attachment);
	assert_false(p->in_archive);
	assert_int_equal(p->depth, 1);
	assert_int_equal(p->size, 3);
	assert_string_equal(p->type, "application/octet-stream");
	assert_memory_equal(p->sha256, abc, 32);
	assert_int_equal(ci->decoded_total, 3 + 5);
	content_info_free(ci);
	buf_deinit(&msg);
}

static const uint8_t elf[] = "\x7f" "ELF\x02\x01\x01\x00 an elf binary";

static void
test_zip_members_nested_encrypted(void **state)
{
	static const char text[] = "just some text, repeated, repeated";
	struct member_spec inner[] = {
		{ "deep/run.sh", (const uint8_t *)"#!/bin/sh\necho\n", 15,
		    true, false, false },
	};
	struct buf in, outer, msg;
	struct content_info *ci;
	const struct content_part *p;

	(void)state;
	buf_init(&in, 0);
	build_zip(inner, NELEM(inner), true, &in);
	struct member_spec members[] = {
		{ "a.txt", (const uint8_t *)text, sizeof(text) - 1, true,
		    false, false },
		{ "bin/tool", elf, sizeof(elf) - 1, false, false, false },
		{ "dir/", (const uint8_t *)"", 0, false, false, false },
		{ "secret.doc", (const uint8_t *)"xxxxxxxxxxxx", 12, false,
		    true, false },
		{ "inner.zip", in.data, in.len, true, false, false },
		{ "liar.txt", (const uint8_t *)text, sizeof(text) - 1, true,
		    false, true },
	};
	buf_init(&outer, 0);
	build_zip(members, NELEM(members), true, &outer);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=\"pack.zip\"", outer.data,
	    outer.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "pack.zip");
	assert_non_null(p);
	assert_string_equal(p->detected, "zip");
	assert_int_equal(p->depth, 1);
	p = find(ci, "a.txt");
	assert_non_null(p);
	assert_true(p->in_archive);
	assert_int_equal(p->depth, 2);
	assert_int_equal(p->size, sizeof(text) - 1);
	assert_string_equal(p->detected, "text");
	assert_string_equal(p->type, "");
	p = find(ci, "bin/tool");
	assert_non_null(p);
	assert_string_equal(p->detected, "elf");
	assert_null(find(ci, "dir/"));
	p = find(ci, "secret.doc");
	assert_non_null(p);
	assert_string_equal(p->detected, "encrypted");
	assert_int_equal(p->size, 0);
	p = find(ci, "inner.zip");
	assert_non_null(p);
	assert_string_equal(p->detected, "zip");
	p = find(ci, "deep/run.sh");
	assert_non_null(p);
	assert_int_equal(p->depth, 3);
	assert_string_equal(p->detected, "script");
	assert_int_equal(ci->max_depth, 3);
	/* declared sizes of 1 are ignored: the stream is what counts */
	p = find(ci, "liar.txt");
	assert_non_null(p);
	assert_int_equal(p->size, sizeof(text) - 1);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&outer);
	buf_deinit(&in);
}

/* Local headers only (a truncated archive): members are still found. */
static void
test_zip_without_central_directory(void **state)
{
	struct member_spec members[] = {
		{ "one.exe", (const uint8_t *)"MZ\x90\x00\x03", 5, false,
		    false, false },
		{ "two.txt", (const uint8_t *)"two", 3, true, false, false },
	};
	struct buf z, msg;
	struct content_info *ci;

	(void)state;
	buf_init(&z, 0);
	build_zip(members, NELEM(members), false, &z);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=x.zip", z.data, z.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_non_null(find(ci, "one.exe"));
	assert_string_equal(find(ci, "one.exe")->detected, "exe");
	assert_non_null(find(ci, "two.txt"));
	assert_int_equal(find(ci, "two.txt")->size, 3);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&z);
}

/* 64 MB of zeros deflate to ~64 KB; a 4 MB budget stops the inflate
 * there (the member reports what was read, no more). */
static void
test_zip_bomb_stops_at_budget(void **state)
{
	const size_t big = 64u * 1024 * 1024;
	uint8_t *zeros = calloc(1, big);
	struct buf z, msg;
	struct content_info *ci;
	const struct content_part *p;

	(void)state;
	assert_non_null(zeros);
	struct member_spec members[] = {
		{ "zeros.bin", zeros, big, true, false, false },
	};
	buf_init(&z, 0);
	build_zip(members, NELEM(members), true, &z);
	free(zeros);
	assert_true(z.len < 1024 * 1024);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=b.zip", z.data, z.len, &msg);
	ci = scan(&msg, 4u * 1024 * 1024, 0, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "decoded size");
	assert_true(ci->decoded_total <= 4u * 1024 * 1024);
	p = find(ci, "zeros.bin");
	assert_non_null(p);
	assert_true(p->size < 4u * 1024 * 1024);
	content_info_free(ci);
	/* under a big enough budget the member is read to its end */
	ci = scan(&msg, 128u * 1024 * 1024, 0, 0);
	assert_null(ci->limit);
	assert_int_equal(find(ci, "zeros.bin")->size, big);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&z);
}

static void
test_nesting_and_parts_limits(void **state)
{
	struct buf z, next, msg;
	struct content_info *ci;
	char name[32];
	int i;

	(void)state;
	buf_init(&z, 0);
	struct member_spec leaf[] = {
		{ "leaf.txt", (const uint8_t *)"leaf", 4, true, false, false },
	};
	build_zip(leaf, 1, true, &z);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "level%d.zip", i);
		struct member_spec wrap[] = {
			{ name, z.data, z.len, true, false, false },
		};
		buf_init(&next, 0);
		build_zip(wrap, 1, true, &next);
		buf_deinit(&z);
		z = next;
	}
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=n.zip", z.data, z.len, &msg);
	ci = scan(&msg, 0, 5, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "nesting");
	assert_null(find(ci, "leaf.txt"));
	content_info_free(ci);
	ci = scan(&msg, 0, 10, 0);
	assert_null(ci->limit);
	assert_int_equal(find(ci, "leaf.txt")->depth, 8);
	content_info_free(ci);
	/* root, text, attachment and 7 members: 10 parts */
	ci = scan(&msg, 0, 10, 9);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "parts");
	content_info_free(ci);
	ci = scan(&msg, 0, 10, 10);
	assert_null(ci->limit);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&z);
}

static void
test_archives_off_and_garbage(void **state)
{
	struct member_spec members[] = {
		{ "x.exe", (const uint8_t *)"MZ\x90", 3, false, false, false },
	};
	struct content_limits lim;
	struct content_info *ci;
	struct buf z, msg;
	size_t cut;

	(void)state;
	buf_init(&z, 0);
	build_zip(members, 1, true, &z);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=z.zip", z.data, z.len, &msg);
	content_limits_default(&lim);
	lim.archives = false;
	ci = content_scan(msg.data, msg.len, &lim);
	assert_null(find(ci, "x.exe"));
	assert_non_null(find(ci, "z.zip"));
	content_info_free(ci);
	/* every truncation of the zip: no crash, never a limit */
	lim.archives = true;
	for (cut = 0; cut < z.len; cut++) {
		buf_reset(&msg);
		build_message("attachment; filename=z.zip", z.data, cut,
		    &msg);
		ci = content_scan(msg.data, msg.len, &lim);
		assert_null(ci->limit);
		content_info_free(ci);
	}
	buf_deinit(&msg);
	buf_deinit(&z);
}

/* The reviewer's CPU bomb, scaled down: one local header whose deflate
 * stream is empty stored blocks (inflating to nothing), named by many
 * central directory entries. */
#define EMPTY_BLOCKS	(400u * 1000)	/* 2 MB of stream */

static void
build_empty_stream(struct buf *data)
{
	static const uint8_t blk[] = { 0x00, 0x00, 0x00, 0xff, 0xff };
	static const uint8_t last[] = { 0x01, 0x00, 0x00, 0xff, 0xff };
	size_t i;

	for (i = 0; i < EMPTY_BLOCKS; i++)
		assert_int_equal(buf_append(data, blk, sizeof(blk)), 0);
	assert_int_equal(buf_append(data, last, sizeof(last)), 0);
}

static void
build_repeated_zip(unsigned entries, struct buf *out)
{
	struct buf data, cd;
	char name[32];
	unsigned i;

	buf_init(&data, 0);
	build_empty_stream(&data);
	put32(out, 0x04034b50);
	put16(out, 20);
	put16(out, 0);
	put16(out, 8);
	put32(out, 0);
	put32(out, 0);
	put32(out, (uint32_t)data.len);
	put32(out, 0);
	put16(out, 5);
	put16(out, 0);
	assert_int_equal(buf_append_str(out, "a.txt"), 0);
	assert_int_equal(buf_append(out, data.data, data.len), 0);
	buf_init(&cd, 0);
	for (i = 0; i < entries; i++) {
		snprintf(name, sizeof(name), "f%u.txt", i);
		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, 0);
		put16(&cd, 8);
		put32(&cd, 0);
		put32(&cd, 0);
		put32(&cd, (uint32_t)data.len);
		put32(&cd, 0);
		put16(&cd, (unsigned)strlen(name));
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, 0);		/* every entry: the same header */
		assert_int_equal(buf_append_str(&cd, name), 0);
	}
	i = (unsigned)out->len;
	assert_int_equal(buf_append(out, cd.data, cd.len), 0);
	put32(out, 0x06054b50);
	put16(out, 0);
	put16(out, 0);
	put16(out, entries);
	put16(out, entries);
	put32(out, (uint32_t)cd.len);
	put32(out, i);
	put16(out, 0);
	buf_deinit(&cd);
	buf_deinit(&data);
}

static int
sink_none(const uint8_t *p, size_t n, void *ctx)
{
	(void)p;
	(void)n;
	(void)ctx;
	return 0;
}

static int
count_member(const struct zip_member *m, void *ctx)
{
	(void)m;
	++*(unsigned *)ctx;
	return 0;
}

struct read_one {
	struct zip_read	rd;
	int		r;
};

/* Reads the member with the limits in ctx, keeps the result. */
static int
read_member(const struct zip_member *m, void *ctx)
{
	struct read_one *ro = ctx;

	ro->r = zip_member_read(m, &ro->rd, sink_none, NULL);
	return 0;
}

/* Entries sharing a local header are refused before anything is
 * inflated, even inside a deflated outer zip: the stream is inflated
 * once at most (here: never). */
static void
test_overlapping_members_refused(void **state)
{
	struct buf inner, outer, msg;
	struct content_info *ci;
	struct read_one ro;
	unsigned seen = 0;

	(void)state;
	buf_init(&inner, 0);
	build_repeated_zip(50, &inner);
	assert_int_equal(zip_walk(inner.data, inner.len, count_member,
	    &seen), ZIP_OVERLAP);
	assert_int_equal(seen, 0);
	struct member_spec members[] = {
		{ "inner.zip", inner.data, inner.len, true, false, false },
	};
	buf_init(&outer, 0);
	build_zip(members, NELEM(members), true, &outer);
	assert_true(outer.len < 64 * 1024);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=x.zip", outer.data, outer.len,
	    &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "overlapping members");
	/* only the outer member was inflated: its own compressed octets */
	assert_true(ci->work <= outer.len);
	assert_non_null(find(ci, "inner.zip"));
	assert_null(find(ci, "f0.txt"));
	content_info_free(ci);
	/* one entry: no overlap, the stream is read once and counted */
	buf_reset(&inner);
	build_repeated_zip(1, &inner);
	buf_reset(&msg);
	build_message("attachment; filename=y.zip", inner.data, inner.len,
	    &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_non_null(find(ci, "f0.txt"));
	assert_int_equal(find(ci, "f0.txt")->size, 0);
	assert_int_equal(ci->work, EMPTY_BLOCKS * 5 + 5);
	content_info_free(ci);
	/* the same stream under a small work budget: the octets read
	 * stop it, not the (empty) output. (In content_scan archive
	 * octets are decoded octets already counted, so its work budget
	 * is a second fence.) */
	memset(&ro, 0, sizeof(ro));
	ro.rd.max_out = 1024;
	ro.rd.max_in = 1024u * 1024;
	assert_int_equal(zip_walk(inner.data, inner.len, read_member, &ro),
	    0);
	assert_int_equal(ro.r, 3);
	assert_int_equal(ro.rd.out, 0);
	assert_true(ro.rd.in <= 1024u * 1024);
	buf_deinit(&msg);
	buf_deinit(&outer);
	buf_deinit(&inner);
}

/* A deflated member's data ends where the next member begins: what the
 * walk reads is never more than the archive. */
static void
test_member_regions(void **state)
{
	static const char text[] = "some text that compresses, compresses";
	struct member_spec members[] = {
		{ "liar.txt", (const uint8_t *)text, sizeof(text) - 1, true,
		    false, true },
		{ "b.txt", (const uint8_t *)text, sizeof(text) - 1, true,
		    false, false },
		{ "c.bin", (const uint8_t *)text, sizeof(text) - 1, false,
		    false, false },
	};
	struct buf z, msg;
	struct content_info *ci;

	(void)state;
	buf_init(&z, 0);
	build_zip(members, NELEM(members), true, &z);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=r.zip", z.data, z.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_int_equal(find(ci, "liar.txt")->size, sizeof(text) - 1);
	assert_int_equal(find(ci, "b.txt")->size, sizeof(text) - 1);
	assert_int_equal(find(ci, "c.bin")->size, sizeof(text) - 1);
	assert_true(ci->work < z.len);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&z);
}

/* Octets in front of an archive (a self-extracting stub, one stray
 * octet): unzip and Python list its members, and so does the scan. */
static void
test_prefixed_zip(void **state)
{
	struct member_spec members[] = {
		{ "evil.exe", elf, sizeof(elf) - 1, true, false, false },
		{ "readme.txt", (const uint8_t *)"hi", 2, false, false,
		    false },
	};
	static const uint8_t stub[] = "MZ\x90\x00\x03\x00\x00\x00\x04\x00";
	static const uint8_t zero[1];
	struct buf z, pre, msg;
	struct content_info *ci;
	const struct content_part *p;
	size_t i;

	(void)state;
	buf_init(&z, 0);
	build_zip(members, NELEM(members), true, &z);
	buf_init(&pre, 0);
	assert_int_equal(buf_append_str(&pre, "#"), 0);
	assert_int_equal(buf_append(&pre, z.data, z.len), 0);
	assert_false(zip_is_zip(pre.data, pre.len));
	assert_true(zip_is_archive(pre.data, pre.len));
	assert_false(zip_is_archive((const uint8_t *)"#PK\x05\x06", 5));
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=invoice.zip", pre.data, pre.len,
	    &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "invoice.zip");
	assert_non_null(p);
	assert_string_equal(p->detected, "zip");
	p = find(ci, "evil.exe");
	assert_non_null(p);
	assert_true(p->in_archive);
	assert_string_equal(p->detected, "elf");
	assert_int_equal(p->size, sizeof(elf) - 1);
	assert_int_equal(find(ci, "readme.txt")->size, 2);
	content_info_free(ci);
	/* a self-extracting exe: still an exe, its members listed */
	buf_reset(&pre);
	assert_int_equal(buf_append(&pre, stub, sizeof(stub) - 1), 0);
	for (i = 0; i < 3000; i++)
		assert_int_equal(buf_append(&pre, zero, 1), 0);
	assert_int_equal(buf_append(&pre, z.data, z.len), 0);
	buf_reset(&msg);
	build_message("attachment; filename=setup.bin", pre.data, pre.len,
	    &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_string_equal(find(ci, "setup.bin")->detected, "exe");
	assert_non_null(find(ci, "evil.exe"));
	assert_string_equal(find(ci, "evil.exe")->detected, "elf");
	content_info_free(ci);
	/* a signature without a directory behind it is no archive */
	buf_reset(&msg);
	build_message("attachment; filename=blob.bin",
	    (const uint8_t *)"\x01\x02PK\x05\x06", 6, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_string_equal(find(ci, "blob.bin")->detected, "unknown");
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&pre);
	buf_deinit(&z);
}

/* ---- gzip and tar ------------------------------------------------------- */

/* A gzip member of p (FNAME when fname is not NULL). */
static void
build_gzip(const uint8_t *p, size_t len, const char *fname, struct buf *out)
{
	z_stream z;
	gz_header h;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	if (fname != NULL) {
		memset(&h, 0, sizeof(h));
		h.name = (Bytef *)(uintptr_t)fname;
		assert_int_equal(deflateSetHeader(&z, &h), Z_OK);
	}
	deflate_all(&z, p, len, out);
}

/* An octal field of n octets: n - 1 digits and a NUL. */
static void
put_octal(uint8_t *f, size_t n, uint64_t v)
{
	size_t i;

	for (i = n - 1; i-- > 0; v >>= 3)
		f[i] = (uint8_t)('0' + (v & 7));
	f[n - 1] = '\0';
}

static void
tar_checksum(uint8_t *h)
{
	unsigned sum = 0;
	size_t i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	put_octal(h + 148, 7, sum);	/* six digits, NUL, blank */
}

/* A ustar header (the size field says size, whatever follows). */
static void
tar_header(struct buf *out, const char *name, uint64_t size, char type)
{
	uint8_t h[512];

	memset(h, 0, sizeof(h));
	assert_true(strlen(name) <= 100);
	memcpy(h, name, strlen(name));
	put_octal(h + 100, 8, 0644);
	put_octal(h + 108, 8, 1000);
	put_octal(h + 116, 8, 1000);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, 1700000000);
	h[156] = (uint8_t)type;
	memcpy(h + 257, "ustar\0" "00", 8);
	tar_checksum(h);
	assert_int_equal(buf_append(out, h, sizeof(h)), 0);
}

static void
tar_pad(struct buf *out)
{
	static const uint8_t zero[512];

	if (out->len % 512 != 0)
		assert_int_equal(buf_append(out, zero, 512 - out->len % 512),
		    0);
}

static void
tar_file(struct buf *out, const char *name, const uint8_t *p, size_t len)
{
	tar_header(out, name, len, '0');
	assert_int_equal(buf_append(out, p, len), 0);
	tar_pad(out);
}

static void
tar_close(struct buf *out)
{
	static const uint8_t zero[1024];

	assert_int_equal(buf_append(out, zero, sizeof(zero)), 0);
}

static const uint8_t exe[] = "MZ\x90\x00\x03\x00\x00\x00\x04\x00 a dos exe";
static const char readme[] = "nothing to see here\r\n";

/* invoice.tar.gz: gzip, then tar, then the files, each a level deeper
 * and each named, sized, hashed and sniffed as if it were attached. */
static void
test_tar_gz_exe_found(void **state)
{
	struct buf t, g, msg;
	struct content_info *ci, *plain;
	const struct content_part *p;

	(void)state;
	buf_init(&t, 0);
	tar_header(&t, "docs/", 0, '5');
	tar_file(&t, "docs/readme.txt", (const uint8_t *)readme,
	    sizeof(readme) - 1);
	tar_file(&t, "docs/invoice.pdf.exe", exe, sizeof(exe) - 1);
	tar_close(&t);
	buf_init(&g, 0);
	build_gzip(t.data, t.len, NULL, &g);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=\"invoice.tar.gz\"", g.data,
	    g.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "invoice.tar.gz");
	assert_non_null(p);
	assert_string_equal(p->detected, "gzip");
	assert_int_equal(p->depth, 1);
	p = find(ci, "invoice.tar");
	assert_non_null(p);
	assert_string_equal(p->detected, "tar");
	assert_true(p->in_archive);
	assert_int_equal(p->depth, 2);
	assert_int_equal(p->size, t.len);
	assert_null(find(ci, "docs/"));
	p = find(ci, "docs/readme.txt");
	assert_non_null(p);
	assert_string_equal(p->detected, "text");
	assert_int_equal(p->size, sizeof(readme) - 1);
	p = find(ci, "docs/invoice.pdf.exe");
	assert_non_null(p);
	assert_true(p->in_archive);
	assert_true(p->attachment);
	assert_int_equal(p->depth, 3);
	assert_string_equal(p->detected, "exe");
	assert_int_equal(p->size, sizeof(exe) - 1);
	assert_int_equal(ci->max_depth, 3);
	assert_int_equal(ci->decoded_total, 5 + g.len + t.len +
	    sizeof(readme) - 1 + sizeof(exe) - 1);
	assert_true(ci->work <= g.len);
	/* the hash is the file's own, as if it were attached as it is */
	buf_reset(&msg);
	build_message("attachment; filename=plain.exe", exe, sizeof(exe) - 1,
	    &msg);
	plain = scan(&msg, 0, 0, 0);
	assert_memory_equal(find(plain, "plain.exe")->sha256, p->sha256, 32);
	content_info_free(plain);
	content_info_free(ci);
	/* gzip and tar are two levels: at most 2, the files are too deep */
	buf_reset(&msg);
	build_message("attachment; filename=\"invoice.tar.gz\"", g.data,
	    g.len, &msg);
	ci = scan(&msg, 0, 2, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "nesting");
	assert_null(find(ci, "docs/invoice.pdf.exe"));
	content_info_free(ci);
	/* a bare tar is opened too, and archives = no opens neither */
	buf_reset(&msg);
	build_message("attachment; filename=\"a.tar\"", t.data, t.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_string_equal(find(ci, "a.tar")->detected, "tar");
	assert_int_equal(find(ci, "docs/invoice.pdf.exe")->depth, 2);
	content_info_free(ci);
	{
		struct content_limits lim;

		content_limits_default(&lim);
		lim.archives = false;
		buf_reset(&msg);
		build_message("attachment; filename=\"b.tgz\"", g.data, g.len,
		    &msg);
		ci = content_scan(msg.data, msg.len, &lim);
		assert_int_equal(ci->nparts, 2);
		assert_null(find(ci, "b.tar"));
		content_info_free(ci);
	}
	buf_deinit(&msg);
	buf_deinit(&g);
	buf_deinit(&t);
}

/* The gzip's member is named by FNAME, else after the outer name; a
 * file of several members is one content, trailing octets ignored. */
static void
test_gzip_names_and_members(void **state)
{
	static const struct {
		const char	*outer;
		const char	*fname;
		const char	*want;
	} cases[] = {
		{ "report.gz", "payload.exe", "payload.exe" },
		{ "report.pdf.gz", NULL, "report.pdf" },
		{ "Backup.TGZ", NULL, "Backup.tar" },
		{ "data.bin", NULL, "" },
	};
	struct buf g, msg;
	struct content_info *ci;
	const struct content_part *p;
	size_t i;

	(void)state;
	buf_init(&g, 0);
	buf_init(&msg, OUT_MAX);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&g);
		buf_reset(&msg);
		build_gzip(elf, sizeof(elf) - 1, cases[i].fname, &g);
		build_message("attachment; filename=x", g.data, g.len, &msg);
		buf_reset(&msg);
		assert_int_equal(buf_printf(&msg, "attachment; filename=\"%s\"",
		    cases[i].outer), 0);
		{
			char disp[128];

			snprintf(disp, sizeof(disp), "%.*s", (int)msg.len,
			    (const char *)msg.data);
			buf_reset(&msg);
			build_message(disp, g.data, g.len, &msg);
		}
		ci = scan(&msg, 0, 0, 0);
		assert_null(ci->limit);
		assert_int_equal(ci->nparts, 3);
		p = &ci->parts[2];
		assert_string_equal(p->name, cases[i].want);
		assert_string_equal(p->detected, "elf");
		assert_true(p->in_archive);
		assert_int_equal(p->size, sizeof(elf) - 1);
		content_info_free(ci);
	}
	/* two members and trailing zeros: gunzip writes both, ignores the
	 * zeros */
	buf_reset(&g);
	build_gzip(exe, sizeof(exe) - 1, "two.exe", &g);
	build_gzip((const uint8_t *)readme, sizeof(readme) - 1, "x", &g);
	assert_int_equal(buf_append(&g, "\0\0\0\0", 4), 0);
	buf_reset(&msg);
	build_message("attachment; filename=two.gz", g.data, g.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "two.exe");
	assert_non_null(p);
	assert_string_equal(p->detected, "exe");
	assert_int_equal(p->size, sizeof(exe) - 1 + sizeof(readme) - 1);
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&g);
}

/* Every truncation of a .tar.gz: no crash, no limit; the cut gzip's
 * content is what could be inflated, and once the exe's first octets
 * are out it is seen. A bad CRC still shows what was read. */
static void
test_gzip_truncated(void **state)
{
	uint8_t big[3000];
	struct buf t, g, msg;
	struct content_info *ci;
	const struct content_part *p;
	size_t cut, i;
	bool seen_exe = false;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 13);
	memcpy(big, exe, sizeof(exe) - 1);
	buf_init(&t, 0);
	tar_file(&t, "a.exe", big, sizeof(big));
	tar_close(&t);
	buf_init(&g, 0);
	build_gzip(t.data, t.len, "a.tar", &g);
	buf_init(&msg, OUT_MAX);
	for (cut = 0; cut < g.len; cut++) {
		buf_reset(&msg);
		build_message("attachment; filename=c.tgz", g.data, cut, &msg);
		ci = scan(&msg, 0, 0, 0);
		assert_null(ci->limit);
		p = find(ci, "a.tar");
		if (cut < 10) {
			/* not even the fixed header: not a gzip to open */
			assert_true(p == NULL || p->size == 0);
		} else if (p != NULL && p->size == 0)
			assert_string_equal(p->detected, "unreadable");
		if ((p = find(ci, "a.exe")) != NULL &&
		    strcmp(p->detected, "exe") == 0)
			seen_exe = true;
		content_info_free(ci);
	}
	assert_true(seen_exe);
	/* the whole file, then with its CRC broken */
	g.data[g.len - 6] ^= 0xff;
	buf_reset(&msg);
	build_message("attachment; filename=c.tgz", g.data, g.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_string_equal(find(ci, "a.tar")->detected, "tar");
	assert_int_equal(find(ci, "a.tar")->size, t.len);
	assert_string_equal(find(ci, "a.exe")->detected, "exe");
	content_info_free(ci);
	/* a header with nothing after it */
	buf_reset(&msg);
	build_message("attachment; filename=h.gz", g.data, 10, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	assert_string_equal(find(ci, "h")->detected, "unreadable");
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&g);
	buf_deinit(&t);
}

/* 64 MB of zeros gzip to ~64 KB: a 4 MB budget stops the inflate
 * there, and a .tar.gz of it too (the tar's file counts as well). */
static void
test_gzip_bomb_stops_at_budget(void **state)
{
	const size_t big = 64u * 1024 * 1024;
	uint8_t *zeros = calloc(1, big);
	struct buf g, t, msg;
	struct content_info *ci;
	const struct content_part *p;

	(void)state;
	assert_non_null(zeros);
	buf_init(&g, 0);
	build_gzip(zeros, big, NULL, &g);
	assert_true(g.len < 1024 * 1024);
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=zeros.bin.gz", g.data, g.len,
	    &msg);
	ci = scan(&msg, 4u * 1024 * 1024, 0, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "decoded size");
	assert_int_equal(ci->decoded_total, 4u * 1024 * 1024);
	p = find(ci, "zeros.bin");
	assert_non_null(p);
	assert_true(p->size < 4u * 1024 * 1024);
	assert_true(ci->work <= g.len);
	content_info_free(ci);
	ci = scan(&msg, 128u * 1024 * 1024, 0, 0);
	assert_null(ci->limit);
	assert_int_equal(find(ci, "zeros.bin")->size, big);
	content_info_free(ci);
	/* the zeros as a file in a .tar.gz */
	buf_init(&t, 0);
	tar_header(&t, "zeros.img", big, '0');
	assert_int_equal(buf_append(&t, zeros, big), 0);
	tar_close(&t);
	free(zeros);
	buf_reset(&g);
	build_gzip(t.data, t.len, NULL, &g);
	buf_deinit(&t);
	buf_reset(&msg);
	build_message("attachment; filename=z.tgz", g.data, g.len, &msg);
	ci = scan(&msg, 4u * 1024 * 1024, 0, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "decoded size");
	assert_int_equal(ci->decoded_total, 4u * 1024 * 1024);
	assert_non_null(find(ci, "z.tar"));
	assert_non_null(find(ci, "zeros.img"));
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&g);
}

/* gzip of gzip of ...: each is a level, the nesting limit stops it. */
static void
test_gzip_in_gzip_nesting(void **state)
{
	struct buf g, next, msg;
	struct content_info *ci;
	int i;

	(void)state;
	buf_init(&g, 0);
	build_gzip(exe, sizeof(exe) - 1, "deep.exe", &g);
	for (i = 0; i < 8; i++) {
		buf_init(&next, 0);
		build_gzip(g.data, g.len, NULL, &next);
		buf_deinit(&g);
		g = next;
	}
	buf_init(&msg, OUT_MAX);
	build_message("attachment; filename=n.gz", g.data, g.len, &msg);
	ci = scan(&msg, 0, 5, 0);
	assert_non_null(ci->limit);
	assert_string_equal(ci->limit, "nesting");
	assert_null(find(ci, "deep.exe"));
	assert_true(ci->max_depth <= 5);
	content_info_free(ci);
	ci = scan(&msg, 0, 12, 0);
	assert_null(ci->limit);
	assert_int_equal(find(ci, "deep.exe")->depth, 10);
	assert_string_equal(find(ci, "deep.exe")->detected, "exe");
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&g);
}

struct seen {
	char		names[8][TAR_NAME_MAX];
	uint64_t	got[8];
	uint64_t	size[8];	/* as begin said */
	bool		whole[8];
	size_t		n;
	struct buf	out;		/* gzip: the content */
};

static int
seen_begin(const struct tar_entry *e, void *ctx)
{
	struct seen *s = ctx;

	assert_true(s->n < NELEM(s->names));
	memcpy(s->names[s->n], e->name, sizeof(e->name));
	s->got[s->n] = 0;
	s->size[s->n] = e->size;
	s->whole[s->n] = false;
	return 0;
}

static int
seen_data(const uint8_t *p, size_t len, void *ctx)
{
	struct seen *s = ctx;

	(void)p;
	s->got[s->n] += len;
	return 0;
}

static int
seen_end(bool whole, void *ctx)
{
	struct seen *s = ctx;

	s->whole[s->n++] = whole;
	return 0;
}

static const struct tar_ops seen_ops = { seen_begin, seen_data, seen_end };

/* The tar in p, fed whole or one octet at a time. */
static int
read_tar(const uint8_t *p, size_t len, bool trickle, struct seen *s)
{
	struct tar_reader *t = tar_new();
	size_t i;
	int r;

	memset(s, 0, sizeof(*s));
	if (!trickle)
		assert_int_equal(tar_feed(t, p, len, &seen_ops, s), 0);
	for (i = 0; trickle && i < len; i++)
		assert_int_equal(tar_feed(t, p + i, 1, &seen_ops, s), 0);
	r = tar_finish(t, &seen_ops, s);
	tar_free(&t);
	assert_null(t);
	return r;
}

/* A pax extended header ('x') of the records. */
static void
tar_pax(struct buf *out, const char *records)
{
	tar_header(out, "PaxHeaders/x", strlen(records), 'x');
	assert_int_equal(buf_append_str(out, records), 0);
	tar_pad(out);
}

/* Sizes that lie, damaged blocks, long names: never read past the
 * input, and what tar would extract is what is reported. */
static void
test_tar_malformed(void **state)
{
	char longname[300];
	uint8_t blk[512];
	struct buf t, msg;
	struct seen s;
	struct content_info *ci;
	const struct content_part *p;
	size_t cut;
	int trickle;

	(void)state;
	buf_init(&t, 0);
	buf_init(&msg, OUT_MAX);
	/* a size past the data, in a heap block of exactly the tar's
	 * length (ASan sees any read past it) */
	tar_header(&t, "cut.exe", 1u << 30, '0');
	assert_int_equal(buf_append(&t, exe, sizeof(exe) - 1), 0);
	for (trickle = 0; trickle < 2; trickle++) {
		uint8_t *exact = malloc(t.len);

		assert_non_null(exact);
		memcpy(exact, t.data, t.len);
		assert_int_equal(read_tar(exact, t.len, trickle, &s), 1);
		free(exact);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.names[0], "cut.exe");
		assert_int_equal(s.got[0], sizeof(exe) - 1);
		assert_false(s.whole[0]);
	}
	build_message("attachment; filename=cut.tar", t.data, t.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "cut.exe");
	assert_non_null(p);
	assert_string_equal(p->detected, "exe");
	assert_int_equal(p->size, sizeof(exe) - 1);
	content_info_free(ci);
	/* a garbage block (bad checksum) between two files is skipped, as
	 * GNU tar skips to the next header; a base-256 size; a directory
	 * whose size field is not followed by data; a GNU long name; pax
	 * path and size (the header's own size field says 0) */
	buf_reset(&t);
	tar_file(&t, "one.txt", (const uint8_t *)readme, sizeof(readme) - 1);
	memset(blk, 'A', sizeof(blk));
	assert_int_equal(buf_append(&t, blk, sizeof(blk)), 0);
	tar_header(&t, "b256.bin", 0, '0');
	t.data[t.len - 512 + 124] = 0x80;
	memset(t.data + t.len - 512 + 125, 0, 11);
	t.data[t.len - 512 + 135] = 3;
	tar_checksum(t.data + t.len - 512);
	assert_int_equal(buf_append(&t, "abc", 3), 0);
	tar_pad(&t);
	tar_header(&t, "dir/", 1024, '5');
	memset(longname, 'n', sizeof(longname));
	memcpy(longname + sizeof(longname) - 5, ".exe", 5);
	tar_header(&t, "././@LongLink", sizeof(longname), 'L');
	assert_int_equal(buf_append(&t, longname, sizeof(longname)), 0);
	tar_pad(&t);
	tar_file(&t, "short", elf, sizeof(elf) - 1);
	tar_pax(&t, "31 path=pax/hidden/payload.exe\n12 size=100\n");
	tar_header(&t, "decoy.txt", 0, '0');
	assert_int_equal(buf_append(&t, exe, sizeof(exe) - 1), 0);
	memset(blk, 0, sizeof(blk));
	assert_int_equal(buf_append(&t, blk, 100 - (sizeof(exe) - 1)), 0);
	tar_pad(&t);
	tar_file(&t, "last.txt", (const uint8_t *)"end", 3);
	tar_close(&t);
	for (trickle = 0; trickle < 2; trickle++) {
		assert_int_equal(read_tar(t.data, t.len, trickle, &s), 0);
		assert_int_equal(s.n, 5);
		assert_string_equal(s.names[0], "one.txt");
		assert_string_equal(s.names[1], "b256.bin");
		assert_int_equal(s.got[1], 3);
		/* too long: its end, the extension, is kept */
		assert_int_equal(strlen(s.names[2]), TAR_NAME_MAX - 1);
		assert_memory_equal(s.names[2], FNAME_CUT, 3);
		assert_string_equal(s.names[2] + 3, longname +
		    strlen(longname) - (TAR_NAME_MAX - 4));
		assert_string_equal(s.names[2] + TAR_NAME_MAX - 5, ".exe");
		assert_int_equal(s.got[2], sizeof(elf) - 1);
		assert_string_equal(s.names[3], "pax/hidden/payload.exe");
		assert_int_equal(s.got[3], 100);
		assert_string_equal(s.names[4], "last.txt");
		assert_true(s.whole[4]);
	}
	buf_reset(&msg);
	build_message("attachment; filename=m.tar", t.data, t.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_null(ci->limit);
	p = find(ci, "pax/hidden/payload.exe");
	assert_non_null(p);
	assert_string_equal(p->detected, "exe");
	assert_null(find(ci, "decoy.txt"));
	assert_string_equal(find(ci, "b256.bin")->detected, "text");
	/* every truncation: no crash, no limit, never more parts */
	for (cut = 0; cut < t.len; cut += 7) {
		struct content_info *c2;

		buf_reset(&msg);
		build_message("attachment; filename=m.tar", t.data, cut,
		    &msg);
		c2 = scan(&msg, 0, 0, 0);
		assert_null(c2->limit);
		assert_true(c2->nparts <= ci->nparts);
		content_info_free(c2);
	}
	content_info_free(ci);
	/* the longest POSIX name: a full prefix and a full name (its end
	 * kept in TAR_NAME_MAX - 1) */
	buf_reset(&t);
	tar_header(&t, "", 4, '0');
	memset(t.data, 'n', 100);
	memset(t.data + 345, 'p', 155);
	tar_checksum(t.data);
	assert_int_equal(buf_append(&t, "data", 4), 0);
	tar_pad(&t);
	for (trickle = 0; trickle < 2; trickle++) {
		assert_int_equal(read_tar(t.data, t.len, trickle, &s), 0);
		assert_int_equal(s.n, 1);
		assert_int_equal(strlen(s.names[0]), TAR_NAME_MAX - 1);
		assert_memory_equal(s.names[0], FNAME_CUT "pp", 5);
		assert_int_equal(s.names[0][154], '/');
		assert_int_equal(s.names[0][155], 'n');
		assert_int_equal(s.names[0][254], 'n');
	}
	/* an all-zero "tar" and a header with a broken checksum are not
	 * tars */
	memset(blk, 0, sizeof(blk));
	assert_false(tar_is_tar(blk, sizeof(blk)));
	buf_reset(&t);
	tar_header(&t, "x", 0, '0');
	assert_true(tar_is_tar(t.data, t.len));
	t.data[0] = 'y';
	assert_false(tar_is_tar(t.data, t.len));
	assert_false(tar_is_tar(t.data, 511));
	buf_deinit(&msg);
	buf_deinit(&t);
}

static int
seen_sink(const uint8_t *p, size_t len, void *ctx)
{
	struct seen *s = ctx;

	assert_true(len <= GZIP_WINDOW);
	assert_int_equal(buf_append(&s->out, p, len), 0);
	return 0;
}

/* gzip_feed one octet at a time gives what one call gives. */
static void
test_gzip_reader_trickle(void **state)
{
	uint8_t big[200000];
	struct gzip_reader *gz;
	struct buf g;
	struct seen s;
	size_t i;
	int trickle, r;

	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i % 251 == 0 ? i / 251 : 'a' + i % 7);
	buf_init(&g, 0);
	build_gzip(big, sizeof(big), "name.txt", &g);
	build_gzip((const uint8_t *)"tail", 4, NULL, &g);
	for (trickle = 0; trickle < 2; trickle++) {
		memset(&s, 0, sizeof(s));
		buf_init(&s.out, 0);
		gz = gzip_new();
		assert_string_equal(gzip_name(gz), "");
		if (!trickle)
			r = gzip_feed(gz, g.data, g.len, seen_sink, &s);
		for (i = 0, r = GZIP_MORE; trickle && i < g.len; i++)
			r = gzip_feed(gz, g.data + i, 1, seen_sink, &s);
		assert_int_equal(r, GZIP_MORE);
		assert_int_equal(gzip_finish(gz), 0);
		assert_string_equal(gzip_name(gz), "name.txt");
		assert_int_equal(gzip_in(gz), g.len);
		assert_int_equal(s.out.len, sizeof(big) + 4);
		assert_memory_equal(s.out.data, big, sizeof(big));
		gzip_free(&gz);
		assert_null(gz);
		buf_deinit(&s.out);
	}
	/* cut in the middle: corrupt at the finish */
	memset(&s, 0, sizeof(s));
	buf_init(&s.out, 0);
	gz = gzip_new();
	assert_int_equal(gzip_feed(gz, g.data, g.len / 2, seen_sink, &s),
	    GZIP_MORE);
	assert_int_equal(gzip_finish(gz), GZIP_CORRUPT);
	gzip_free(&gz);
	buf_deinit(&s.out);
	buf_deinit(&g);
}

/* A name padded at the front to push its extension out of a name
 * buffer keeps its end: MIME filename, zip member, gzip FNAME (past
 * what is read: none, the outer name stands in), and fname_push keeps
 * the exact end of a name fed one octet at a time. */
static const struct content_part *
find_suffix(const struct content_info *ci, const char *suffix)
{
	size_t i, k = strlen(suffix), n;

	for (i = 0; i < ci->nparts; i++) {
		n = strlen(ci->parts[i].name);
		if (n >= k && strcmp(ci->parts[i].name + n - k, suffix) == 0)
			return &ci->parts[i];
	}
	return NULL;
}

static void
test_long_names_keep_their_end(void **state)
{
	char name[1024], disp[1200], kept[CONTENT_NAME_MAX], buf[64];
	struct buf zip, msg, gz;
	struct content_info *ci;
	const struct content_part *p;
	size_t i, len = 0;
	bool cut = false;

	(void)state;
	memset(name, 'a', sizeof(name));
	memcpy(name + 600, ".exe", 5);
	/* MIME filename */
	buf_init(&msg, OUT_MAX);
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
	build_message(disp, elf, sizeof(elf) - 1, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_non_null(p = find_suffix(ci, ".exe"));
	assert_int_equal(strlen(p->name), CONTENT_NAME_MAX - 1);
	assert_memory_equal(p->name, FNAME_CUT, 3);
	content_info_free(ci);
	/* zip member */
	{
		struct member_spec m[] = {
			{ name, elf, sizeof(elf) - 1, true, false, false },
		};

		buf_init(&zip, 0);
		build_zip(m, NELEM(m), true, &zip);
		buf_reset(&msg);
		build_message("attachment; filename=p.zip", zip.data, zip.len,
		    &msg);
		ci = scan(&msg, 0, 0, 0);
		assert_non_null(p = find_suffix(ci, ".exe"));
		assert_true(p->in_archive);
		content_info_free(ci);
		buf_deinit(&zip);
	}
	/* gzip FNAME: up to 4 KB read, its end kept; longer: unknown */
	buf_init(&gz, 0);
	build_gzip(elf, sizeof(elf) - 1, name, &gz);
	buf_reset(&msg);
	build_message("attachment; filename=p.gz", gz.data, gz.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_non_null(p = find_suffix(ci, ".exe"));
	assert_true(p->in_archive);
	content_info_free(ci);
	{
		char *huge = malloc(GZIP_NAME_MAX + 100);

		assert_non_null(huge);
		memset(huge, 'b', GZIP_NAME_MAX + 99);
		memcpy(huge + GZIP_NAME_MAX + 95, ".exe", 5);
		buf_reset(&gz);
		build_gzip(elf, sizeof(elf) - 1, huge, &gz);
		free(huge);
		buf_reset(&msg);
		build_message("attachment; filename=x.js.gz", gz.data, gz.len,
		    &msg);
		ci = scan(&msg, 0, 0, 0);
		assert_non_null(find(ci, "x.js"));
		content_info_free(ci);
	}
	buf_deinit(&gz);
	buf_deinit(&msg);
	/* fname_push, one octet at a time, and fname_keep */
	for (i = 0; i < 600 + 4; i++)
		fname_push(buf, sizeof(buf), &len, &cut,
		    (const uint8_t *)name + i, 1);
	assert_true(cut);
	fname_keep(kept, 20, (const uint8_t *)buf, len, cut);
	assert_string_equal(kept, FNAME_CUT "aaaaaaaaaaaa.exe");
	len = 0;
	cut = false;
	fname_push(buf, sizeof(buf), &len, &cut, (const uint8_t *)"ab.txt",
	    6);
	fname_keep(kept, 20, (const uint8_t *)buf, len, cut);
	assert_string_equal(kept, "ab.txt");
}

/* ---- tar formats GNU tar and Python extract too ------------------------- */

/* A pax record "%d key=value\n", its length counting itself. */
static void
pax_rec(struct buf *out, const char *key, const char *val, size_t vallen)
{
	size_t body = 1 + strlen(key) + 1 + vallen + 1;
	size_t n = body + 1;
	char num[24];
	int w;

	while ((w = snprintf(num, sizeof(num), "%zu", n)) > 0 &&
	    (size_t)w + body != n)
		n = (size_t)w + body;
	assert_true(w > 0);
	assert_int_equal(buf_append_str(out, num), 0);
	assert_int_equal(buf_append_str(out, " "), 0);
	assert_int_equal(buf_append_str(out, key), 0);
	assert_int_equal(buf_append_str(out, "="), 0);
	assert_int_equal(buf_append(out, val, vallen), 0);
	assert_int_equal(buf_append_str(out, "\n"), 0);
}

/* An extended header of type ('x' or 'g') holding the records in r. */
static void
tar_ext(struct buf *out, char type, const struct buf *r)
{
	tar_header(out, "PaxHeaders/x", r->len, type);
	assert_int_equal(buf_append(out, r->data, r->len), 0);
	tar_pad(out);
}

/* V7 headers (no magic) and junk before the first header: GNU tar and
 * Python extract both. */
static void
test_tar_v7_and_junk(void **state)
{
	uint8_t junk[TAR_RESYNC_BLOCKS * 512];
	struct buf t, msg;
	struct seen s;
	struct content_info *ci;
	uint32_t x = 12345;
	size_t i;
	int trickle;

	(void)state;
	buf_init(&t, 0);
	buf_init(&msg, OUT_MAX);
	tar_file(&t, "evil.exe", exe, sizeof(exe) - 1);
	tar_file(&t, "notes.txt", (const uint8_t *)readme,
	    sizeof(readme) - 1);
	tar_close(&t);
	/* V7: no magic, no version */
	memset(t.data + 257, 0, 8);
	tar_checksum(t.data);
	memset(t.data + 1024 + 257, 0, 8);
	tar_checksum(t.data + 1024);
	assert_true(tar_is_tar(t.data, t.len));
	for (trickle = 0; trickle < 2; trickle++) {
		assert_int_equal(read_tar(t.data, t.len, trickle, &s), 0);
		assert_int_equal(s.n, 2);
		assert_string_equal(s.names[0], "evil.exe");
		assert_int_equal(s.got[0], sizeof(exe) - 1);
		assert_string_equal(s.names[1], "notes.txt");
	}
	build_message("attachment; filename=v7.tar", t.data, t.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_string_equal(find(ci, "v7.tar")->detected, "tar");
	assert_non_null(find(ci, "evil.exe"));
	assert_string_equal(find(ci, "evil.exe")->detected, "exe");
	content_info_free(ci);
	/* junk blocks before it: a header among the first
	 * TAR_RESYNC_BLOCKS is found, one later is not */
	for (i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	assert_false(tar_is_tar(junk, sizeof(junk)));
	memset(junk, 0, sizeof(junk));
	assert_false(tar_is_tar(junk, sizeof(junk)));
	memset(junk, 'J', sizeof(junk));
	assert_false(tar_is_tar(junk, sizeof(junk)));
	buf_reset(&msg);
	assert_int_equal(buf_append(&msg, junk, 3 * 512), 0);
	assert_int_equal(buf_append(&msg, t.data, t.len), 0);
	assert_true(tar_is_tar(msg.data, msg.len));
	assert_false(tar_is_tar(msg.data, 3 * 512 + 511));
	assert_int_equal(read_tar(msg.data, msg.len, false, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "evil.exe");
	buf_reset(&msg);
	assert_int_equal(buf_append(&msg, junk, sizeof(junk)), 0);
	assert_int_equal(buf_append(&msg, t.data, t.len), 0);
	assert_false(tar_is_tar(msg.data, msg.len));
	buf_deinit(&msg);
	buf_deinit(&t);
}

/* GNU sparse files: the 1.0 format (pax keys, a map before the data)
 * and old GNU 'S' headers with extension blocks. */
static void
test_tar_gnu_sparse(void **state)
{
	uint8_t ext[512];
	struct buf t, r, d, msg;
	struct seen s;
	struct content_info *ci;
	int trickle;

	(void)state;
	buf_init(&t, 0);
	buf_init(&r, 0);
	buf_init(&d, 0);
	buf_init(&msg, OUT_MAX);
	/* 1.0: named by GNU.sparse.name, the map skipped */
	pax_rec(&r, "GNU.sparse.major", "1", 1);
	pax_rec(&r, "GNU.sparse.minor", "0", 1);
	pax_rec(&r, "GNU.sparse.name", "evil.exe", 8);
	pax_rec(&r, "GNU.sparse.realsize", "16", 2);
	tar_ext(&t, 'x', &r);
	assert_int_equal(buf_append_str(&d, "1\n0\n16\n"), 0);
	tar_pad(&d);
	assert_int_equal(buf_append(&d, exe, sizeof(exe) - 1), 0);
	tar_file(&t, "GNUSparseFile.0/notes.txt", d.data, d.len);
	/* GNU.sparse.name alone renames, the data is the data */
	buf_reset(&r);
	pax_rec(&r, "GNU.sparse.name", "run.vbs", 7);
	pax_rec(&r, "path", "decoy.txt", 9);
	tar_ext(&t, 'x', &r);
	tar_file(&t, "plain.txt", (const uint8_t *)"1\n0\n3\n", 6);
	/* a bad map: from the bad octet on, data */
	buf_reset(&r);
	pax_rec(&r, "GNU.sparse.major", "1", 1);
	pax_rec(&r, "GNU.sparse.minor", "0", 1);
	tar_ext(&t, 'x', &r);
	buf_reset(&d);
	assert_int_equal(buf_append_str(&d, "1\n0\n"), 0);
	assert_int_equal(buf_append(&d, exe, sizeof(exe) - 1), 0);
	tar_file(&t, "bad.bin", d.data, d.len);
	/* old GNU: two extension blocks, not in the size, then the data */
	tar_header(&t, "a.txt", 512, 'S');
	t.data[t.len - 512 + 482] = 1;
	tar_checksum(t.data + t.len - 512);
	memset(ext, 0, sizeof(ext));
	ext[504] = 1;
	assert_int_equal(buf_append(&t, ext, sizeof(ext)), 0);
	ext[504] = 0;
	assert_int_equal(buf_append(&t, ext, sizeof(ext)), 0);
	memset(ext, 'A', sizeof(ext));
	assert_int_equal(buf_append(&t, ext, sizeof(ext)), 0);
	tar_file(&t, "evil2.exe", exe, sizeof(exe) - 1);
	/* an 'S' without extension blocks */
	tar_file(&t, "b.txt", (const uint8_t *)"b", 1);
	t.data[t.len - 1024 + 156] = 'S';
	tar_checksum(t.data + t.len - 1024);
	/* a 1.0 file that is all map: still a file, an empty one */
	buf_reset(&r);
	pax_rec(&r, "GNU.sparse.major", "1", 1);
	pax_rec(&r, "GNU.sparse.minor", "0", 1);
	pax_rec(&r, "GNU.sparse.name", "map.exe", 7);
	tar_ext(&t, 'x', &r);
	tar_file(&t, "GNUSparseFile.0/map", (const uint8_t *)"1\n0\n5\n",
	    6);
	tar_close(&t);
	for (trickle = 0; trickle < 2; trickle++) {
		assert_int_equal(read_tar(t.data, t.len, trickle, &s), 0);
		assert_int_equal(s.n, 7);
		assert_string_equal(s.names[0], "evil.exe");
		assert_int_equal(s.got[0], sizeof(exe) - 1);
		/* the size begin gives is of the data handed out */
		assert_int_equal(s.size[0], sizeof(exe) - 1);
		assert_true(s.whole[0]);
		assert_string_equal(s.names[1], "run.vbs");
		assert_int_equal(s.got[1], 6);
		assert_string_equal(s.names[2], "bad.bin");
		assert_int_equal(s.got[2], sizeof(exe) - 1);
		assert_string_equal(s.names[3], "a.txt");
		assert_int_equal(s.got[3], 512);
		assert_string_equal(s.names[4], "evil2.exe");
		assert_int_equal(s.got[4], sizeof(exe) - 1);
		assert_string_equal(s.names[5], "b.txt");
		assert_int_equal(s.got[5], 1);
		assert_string_equal(s.names[6], "map.exe");
		assert_int_equal(s.got[6], 0);
		assert_int_equal(s.size[6], 0);
		assert_true(s.whole[6]);
	}
	build_message("attachment; filename=sp.tar", t.data, t.len, &msg);
	ci = scan(&msg, 0, 0, 0);
	assert_string_equal(find(ci, "evil.exe")->detected, "exe");
	assert_string_equal(find(ci, "bad.bin")->detected, "exe");
	assert_string_equal(find(ci, "evil2.exe")->detected, "exe");
	content_info_free(ci);
	buf_deinit(&msg);
	buf_deinit(&d);
	buf_deinit(&r);
	buf_deinit(&t);
}

/* Which name an entry gets: pax global headers apply to all that
 * follow, a pax path wins over an 'L' name, a NUL ends a pax path. */
static void
test_tar_pax_names(void **state)
{
	static const char ln[] = "long.txt";
	struct buf t, r;
	struct seen s;
	int trickle;

	(void)state;
	buf_init(&t, 0);
	buf_init(&r, 0);
	pax_rec(&r, "path", "evil.exe", 8);
	tar_ext(&t, 'g', &r);
	tar_file(&t, "a.txt", (const uint8_t *)"a", 1);
	tar_file(&t, "b.txt", (const uint8_t *)"b", 1);
	/* a per-entry path wins for its entry */
	buf_reset(&r);
	pax_rec(&r, "path", "x.txt", 5);
	tar_ext(&t, 'x', &r);
	tar_file(&t, "c.txt", (const uint8_t *)"c", 1);
	/* an 'L' name too */
	tar_header(&t, "././@LongLink", sizeof(ln), 'L');
	assert_int_equal(buf_append(&t, ln, sizeof(ln)), 0);
	tar_pad(&t);
	tar_file(&t, "d.txt", (const uint8_t *)"d", 1);
	/* a later 'g' with its own path changes it */
	buf_reset(&r);
	pax_rec(&r, "path", "run.vbs", 7);
	tar_ext(&t, 'g', &r);
	tar_file(&t, "e.txt", (const uint8_t *)"e", 1);
	/* an empty one: the headers' names again */
	buf_reset(&r);
	pax_rec(&r, "path", "", 0);
	tar_ext(&t, 'g', &r);
	/* pax path, then 'L': the pax path */
	buf_reset(&r);
	pax_rec(&r, "path", "evil.vbs", 8);
	tar_ext(&t, 'x', &r);
	tar_header(&t, "././@LongLink", sizeof(ln), 'L');
	assert_int_equal(buf_append(&t, ln, sizeof(ln)), 0);
	tar_pad(&t);
	tar_file(&t, "f.txt", (const uint8_t *)"f", 1);
	/* a NUL ends the path */
	buf_reset(&r);
	pax_rec(&r, "path", "evil.js\0.txt", 12);
	tar_ext(&t, 'x', &r);
	tar_file(&t, "g.txt", (const uint8_t *)"g", 1);
	tar_close(&t);
	for (trickle = 0; trickle < 2; trickle++) {
		assert_int_equal(read_tar(t.data, t.len, trickle, &s), 0);
		assert_int_equal(s.n, 7);
		assert_string_equal(s.names[0], "evil.exe");
		assert_string_equal(s.names[1], "evil.exe");
		assert_string_equal(s.names[2], "x.txt");
		assert_string_equal(s.names[3], "long.txt");
		assert_string_equal(s.names[4], "run.vbs");
		assert_string_equal(s.names[5], "evil.vbs");
		assert_string_equal(s.names[6], "evil.js");
		assert_int_equal(s.got[6], 1);
	}
	buf_deinit(&r);
	buf_deinit(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_table),
		cmocka_unit_test(test_parts_names_hashes),
		cmocka_unit_test(test_zip_members_nested_encrypted),
		cmocka_unit_test(test_zip_without_central_directory),
		cmocka_unit_test(test_zip_bomb_stops_at_budget),
		cmocka_unit_test(test_nesting_and_parts_limits),
		cmocka_unit_test(test_archives_off_and_garbage),
		cmocka_unit_test(test_overlapping_members_refused),
		cmocka_unit_test(test_member_regions),
		cmocka_unit_test(test_prefixed_zip),
		cmocka_unit_test(test_tar_gz_exe_found),
		cmocka_unit_test(test_gzip_names_and_members),
		cmocka_unit_test(test_gzip_truncated),
		cmocka_unit_test(test_gzip_bomb_stops_at_budget),
		cmocka_unit_test(test_gzip_in_gzip_nesting),
		cmocka_unit_test(test_tar_malformed),
		cmocka_unit_test(test_gzip_reader_trickle),
		cmocka_unit_test(test_long_names_keep_their_end),
		cmocka_unit_test(test_tar_v7_and_junk),
		cmocka_unit_test(test_tar_gnu_sparse),
		cmocka_unit_test(test_tar_pax_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
