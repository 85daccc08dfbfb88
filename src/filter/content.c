/* content: see content.h. The MIME tree comes from src/mime; each leaf
 * part is transfer-decoded within what is left of the decoded-size
 * budget (never more than the part's own encoded size), hashed and
 * sniffed; zip parts are opened with src/filter/zip.c, whose members
 * are inflated a window at a time into the hash and the sniffer, so a
 * zip bomb stops at the budget with one window in memory; the archive
 * octets read are counted as the scan's work (ci->work), and an archive
 * whose members share octets stops the walk. A zip behind a prefix (a
 * self-extracting stub) is found by its end record. Only a member
 * that is itself a zip is kept whole (up to CONTENT_ARCHIVE_MAX) so that
 * its central directory can be read. */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "mime.h"
#include "util.h"
#include "xalloc.h"
#include "zip.h"

#define LIMIT_SIZE	"decoded size"
#define LIMIT_NESTING	"nesting"
#define LIMIT_PARTS	"parts"
#define LIMIT_WORK	"inflate work"
#define LIMIT_OVERLAP	"overlapping members"

struct scan {
	const struct content_limits	*lim;
	struct content_info		*ci;
	size_t				 cap;
	unsigned			 counted;	/* incl. containers */
};

void
content_limits_default(struct content_limits *lim)
{
	lim->max_decoded = CONTENT_DEFAULT_DECODED;
	lim->max_depth = CONTENT_DEFAULT_DEPTH;
	lim->max_parts = CONTENT_DEFAULT_PARTS;
	lim->archives = true;
}

/* ---- type detection ---------------------------------------------------- */

static bool
starts(const uint8_t *p, size_t len, const void *magic, size_t n)
{
	return len >= n && memcmp(p, magic, n) == 0;
}

static bool
is_text_octet(uint8_t c)
{
	return c >= 0x20 ? c != 0x7f : c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f';
}

/* "MZ" alone is also how some text starts: a DOS header has binary
 * octets, and a PE file has "PE\0\0" where e_lfanew points. */
static bool
is_exe(const uint8_t *p, size_t len)
{
	uint32_t pe;
	size_t i;

	if (!starts(p, len, "MZ", 2))
		return false;
	if (len >= 64) {
		pe = (uint32_t)p[60] | (uint32_t)p[61] << 8 |
		    (uint32_t)p[62] << 16 | (uint32_t)p[63] << 24;
		if (pe <= len - 4 && memcmp(p + pe, "PE\0\0", 4) == 0)
			return true;
	}
	for (i = 2; i < len && i < 64; i++)
		if (!is_text_octet(p[i]))
			return true;
	return false;
}

static bool
is_macho(const uint8_t *p, size_t len)
{
	static const uint8_t magics[][4] = {
		{ 0xfe, 0xed, 0xfa, 0xce }, { 0xfe, 0xed, 0xfa, 0xcf },
		{ 0xce, 0xfa, 0xed, 0xfe }, { 0xcf, 0xfa, 0xed, 0xfe },
	};
	size_t i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (starts(p, len, magics[i], 4))
			return true;
	/* A universal binary shares 0xcafebabe with Java classes; its
	 * architecture count is small where a class has its version. */
	return starts(p, len, "\xca\xfe\xba\xbe", 4) && len >= 8 &&
	    p[4] == 0 && p[5] == 0 && p[6] == 0 && p[7] > 0 && p[7] < 20;
}

static bool
is_html(const uint8_t *p, size_t len)
{
	static const char *const tags[] = { "!doctype html", "html", "head",
		"body", "script", "iframe", "meta", "svg", "!--" };
	size_t i = 0, t, n;

	if (starts(p, len, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	if (i >= len || p[i] != '<')
		return false;
	i++;
	for (t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		n = strlen(tags[t]);
		if (len - i >= n && ascii_nieq((const char *)p + i, tags[t], n))
			return true;
	}
	return false;
}

const char *
content_detect(const uint8_t *p, size_t len)
{
	size_t i;

	if (len > CONTENT_SNIFF_LEN)
		len = CONTENT_SNIFF_LEN;
	if (len == 0)
		return "empty";
	if (is_exe(p, len))
		return "exe";
	if (starts(p, len, "\x7f" "ELF", 4))
		return "elf";
	if (is_macho(p, len))
		return "macho";
	if (zip_is_zip(p, len))
		return "zip";
	if (starts(p, len, "Rar!\x1a\x07", 6))
		return "rar";
	if (starts(p, len, "7z\xbc\xaf\x27\x1c", 6))
		return "7z";
	if (starts(p, len, "\x1f\x8b", 2))
		return "gzip";
	if (starts(p, len, "%PDF-", 5))
		return "pdf";
	if (starts(p, len, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8))
		return "ole";
	if (starts(p, len, "#!", 2))
		return "script";
	if (is_html(p, len))
		return "html";
	for (i = 0; i < len; i++)
		if (!is_text_octet(p[i]))
			return "unknown";
	return "text";
}

/* ---- the walk ---------------------------------------------------------- */

static bool
stopped(const struct scan *sc)
{
	return sc->ci->limit != NULL;
}

/* Count one part or member at depth against the limits. */
static bool
count(struct scan *sc, unsigned depth)
{
	struct content_info *ci = sc->ci;

	if (stopped(sc))
		return false;
	if (depth > sc->lim->max_depth) {
		ci->limit = LIMIT_NESTING;
		return false;
	}
	if (++sc->counted > sc->lim->max_parts) {
		ci->limit = LIMIT_PARTS;
		return false;
	}
	if (depth > ci->max_depth)
		ci->max_depth = depth;
	return true;
}

static struct content_part *
part_add(struct scan *sc, unsigned depth)
{
	struct content_info *ci = sc->ci;
	struct content_part *cp;

	if (ci->nparts == sc->cap) {
		sc->cap = sc->cap == 0 ? 8 : sc->cap * 2;
		ci->parts = xreallocarray(ci->parts, sc->cap,
		    sizeof(*ci->parts));
	}
	cp = &ci->parts[ci->nparts++];
	memset(cp, 0, sizeof(*cp));
	cp->depth = depth;
	return cp;
}

static uint64_t
budget(const struct scan *sc)
{
	return sc->lim->max_decoded > sc->ci->decoded_total ?
	    sc->lim->max_decoded - sc->ci->decoded_total : 0;
}

/* What may still be read from archives. */
static uint64_t
work_budget(const struct scan *sc)
{
	uint64_t max = sc->lim->max_decoded > UINT64_MAX / CONTENT_WORK_FACTOR ?
	    UINT64_MAX : sc->lim->max_decoded * CONTENT_WORK_FACTOR;

	return max > sc->ci->work ? max - sc->ci->work : 0;
}

static void
set_name(char *dst, const char *src, size_t n)
{
	size_t i;

	if (n >= CONTENT_NAME_MAX)
		n = CONTENT_NAME_MAX - 1;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)src[i];

		dst[i] = c < 0x20 || c == 0x7f || c == '"' ? '_' : (char)c;
	}
	dst[n] = '\0';
}

static void scan_zip(struct scan *sc, const uint8_t *p, size_t len,
    unsigned depth);

/* One archive member being decoded: the hash, the first octets for the
 * type, and the whole content only when it is itself a zip. */
struct member {
	struct scan	*sc;
	EVP_MD_CTX	*md;
	uint8_t		 head[CONTENT_SNIFF_LEN];
	size_t		 headlen;
	bool		 keep;
	bool		 keep_failed;
	struct buf	 kept;
};

static int
member_sink(const uint8_t *p, size_t n, void *ctx)
{
	struct member *mb = ctx;
	size_t h;

	if (EVP_DigestUpdate(mb->md, p, n) != 1)
		return -1;
	if (mb->headlen == 0)
		mb->keep = mb->sc->lim->archives && zip_is_zip(p, n);
	if (mb->headlen < sizeof(mb->head)) {
		h = sizeof(mb->head) - mb->headlen < n ?
		    sizeof(mb->head) - mb->headlen : n;
		memcpy(mb->head + mb->headlen, p, h);
		mb->headlen += h;
	}
	if (mb->keep && !mb->keep_failed && buf_append(&mb->kept, p, n) < 0)
		mb->keep_failed = true;
	return 0;
}

struct zip_walk_ctx {
	struct scan	*sc;
	unsigned	 depth;
};

static int
zip_member(const struct zip_member *m, void *ctx)
{
	struct zip_walk_ctx *z = ctx;
	struct scan *sc = z->sc;
	struct content_part *cp;
	struct member mb;
	struct zip_read rd;
	uint64_t total;
	unsigned int hlen = 0;
	size_t nlen = strlen(m->name);
	int r;

	if (nlen > 0 && m->name[nlen - 1] == '/' && m->data_len <= 2)
		return 0;	/* a directory */
	if (!count(sc, z->depth))
		return -1;
	memset(&mb, 0, sizeof(mb));
	mb.sc = sc;
	buf_init(&mb.kept, CONTENT_ARCHIVE_MAX);
	if ((mb.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mb.md, EVP_sha256(), NULL) != 1)
		abort();	/* out of memory */
	memset(&rd, 0, sizeof(rd));
	rd.max_out = budget(sc);
	rd.max_in = work_budget(sc);
	r = zip_member_read(m, &rd, member_sink, &mb);
	total = rd.out;
	sc->ci->work += rd.in;
	cp = part_add(sc, z->depth);
	set_name(cp->name, m->name, nlen);
	cp->in_archive = true;
	cp->attachment = true;
	cp->size = total;
	sc->ci->decoded_total += total;
	if (EVP_DigestFinal_ex(mb.md, cp->sha256, &hlen) != 1)
		abort();
	EVP_MD_CTX_free(mb.md);
	if (r == 2 && total == 0)
		moat_strlcpy(cp->detected, m->encrypted ? "encrypted" :
		    "unreadable", sizeof(cp->detected));
	else
		moat_strlcpy(cp->detected, content_detect(mb.head,
		    mb.headlen), sizeof(cp->detected));
	if (r == 1)
		sc->ci->limit = LIMIT_SIZE;
	else if (r == 3)
		sc->ci->limit = LIMIT_WORK;
	else if (mb.keep && mb.keep_failed)
		sc->ci->limit = LIMIT_SIZE;	/* too big to open */
	else if (mb.keep && r == 0)
		scan_zip(sc, mb.kept.data, mb.kept.len, z->depth + 1);
	buf_deinit(&mb.kept);
	return stopped(sc) ? -1 : 0;
}

/* The members of the zip at p, at depth. */
static void
scan_zip(struct scan *sc, const uint8_t *p, size_t len, unsigned depth)
{
	struct zip_walk_ctx z = { sc, depth };

	if (zip_walk(p, len, zip_member, &z) == ZIP_OVERLAP && !stopped(sc))
		sc->ci->limit = LIMIT_OVERLAP;
}

static void
part_name(const struct mime_part *mp, struct content_part *cp)
{
	const struct mime_param *pa = mime_part_filename(mp);

	if (pa != NULL)
		set_name(cp->name, pa->value, pa->value_len);
}

static void
scan_leaf(struct scan *sc, const struct mime_message *m,
    const struct mime_part *mp)
{
	struct content_part *cp;
	struct buf out;
	uint64_t left = budget(sc);
	unsigned int hlen = 0;
	bool bad = false;

	/* one more than the budget, so that reaching it is seen */
	buf_init(&out, left >= SIZE_MAX ? SIZE_MAX : (size_t)left + 1);
	cp = part_add(sc, mp->depth);
	part_name(mp, cp);
	snprintf(cp->type, sizeof(cp->type), "%s/%s", mp->type,
	    mp->subtype);
	cp->attachment = cp->name[0] != '\0' || (mp->disposition != NULL &&
	    strcmp(mp->disposition, "attachment") == 0);
	if (mime_part_decode(m, mp, &out, &bad) < 0 || out.len > left) {
		sc->ci->limit = LIMIT_SIZE;
		cp->size = out.len;
		moat_strlcpy(cp->detected, content_detect(out.data, out.len),
		    sizeof(cp->detected));
		buf_deinit(&out);
		return;
	}
	cp->size = out.len;
	sc->ci->decoded_total += out.len;
	moat_strlcpy(cp->detected, content_detect(out.data, out.len),
	    sizeof(cp->detected));
	if (EVP_Digest(out.data, out.len, cp->sha256, &hlen, EVP_sha256(),
	    NULL) != 1)
		abort();
	if (sc->lim->archives && (strcmp(cp->detected, "zip") == 0 ||
	    zip_is_archive(out.data, out.len))) {
		/* An archive behind a prefix is what unzip lists: a
		 * recognised start (a self-extracting exe) keeps its name,
		 * anything else is called a zip. */
		if (strcmp(cp->detected, "unknown") == 0 ||
		    strcmp(cp->detected, "text") == 0)
			moat_strlcpy(cp->detected, "zip",
			    sizeof(cp->detected));
		scan_zip(sc, out.data, out.len, mp->depth + 1);
	}
	buf_deinit(&out);
}

static void
scan_part(struct scan *sc, const struct mime_message *m,
    const struct mime_part *mp)
{
	const struct mime_part *c;

	if (!count(sc, mp->depth))
		return;
	if ((mp->flags & MIME_PART_OPAQUE) != 0 &&
	    (m->flags & MIME_MSG_DEEP) != 0) {
		sc->ci->limit = LIMIT_NESTING;
		return;
	}
	if (mp->children == NULL) {
		scan_leaf(sc, m, mp);
		return;
	}
	for (c = mp->children; c != NULL && !stopped(sc); c = c->next)
		scan_part(sc, m, c);
}

struct content_info *
content_scan(const uint8_t *msg, size_t len, const struct content_limits *lim)
{
	struct content_info *ci = xcalloc(1, sizeof(*ci));
	struct scan sc = { lim, ci, 0, 0 };
	struct mime_message *m;

	m = mime_parse(msg, len);
	scan_part(&sc, m, m->root);
	if (!stopped(&sc) && (m->flags & MIME_MSG_TRUNCATED) != 0)
		ci->limit = LIMIT_PARTS;
	mime_message_free(&m);
	return ci;
}

void
content_info_free(struct content_info *ci)
{
	if (ci == NULL)
		return;
	free(ci->parts);
	free(ci);
}
