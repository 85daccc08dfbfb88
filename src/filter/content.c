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
 * its central directory can be read. gzip (src/filter/gzip.c) and tar
 * (src/filter/tar.c) read front to back, so a part or member that is
 * one is opened as it streams (a "nest"): its members' octets go on to
 * their own hash and sniffer, and to a nest of their own, a window of
 * each level in memory; every member's octets count against the budget
 * as they come out. */
#include "content.h"
#include "fname.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "gzip.h"
#include "mime.h"
#include "tar.h"
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
	if (tar_is_tar(p, len))
		return "tar";
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

/* A part's name: its end kept when too long (fname.h), control octets
 * and quotes as '_'. */
static void
set_name(char *dst, const char *src, size_t n)
{
	size_t i;

	fname_keep(dst, CONTENT_NAME_MAX, (const uint8_t *)src, n, false);
	for (i = 0; dst[i] != '\0'; i++) {
		uint8_t c = (uint8_t)dst[i];

		if (c < 0x20 || c == 0x7f || c == '"')
			dst[i] = '_';
	}
}

static void scan_zip(struct scan *sc, const uint8_t *p, size_t len,
    unsigned depth);

struct nest;

/* One archive member being decoded: the hash, the first octets for the
 * type and for what to open it as: the whole content when it is itself
 * a zip, or a nest when it is a gzip or tar. Its part is reserved when
 * it starts (an index: ci->parts moves as nested members are added). */
struct member {
	struct scan	*sc;
	size_t		 part;
	unsigned	 depth;
	EVP_MD_CTX	*md;
	uint8_t		 head[CONTENT_SNIFF_LEN];
	size_t		 headlen;
	uint64_t	 size;
	bool		 decided;	/* what to open it as */
	bool		 keep;
	bool		 keep_failed;
	struct buf	 kept;
	struct nest	*nest;
};

/* A gzip or tar being read as it streams, reporting members at depth. */
struct nest {
	struct scan		*sc;
	unsigned		 depth;
	size_t			 outer;	/* the part it is the content of */
	struct gzip_reader	*gz;
	struct tar_reader	*tar;
	struct member		*cur;	/* the member being read */
};

static struct nest *nest_open(struct scan *sc, const uint8_t *p,
    size_t len, unsigned depth, size_t outer);
static int nest_feed(struct nest *ns, const uint8_t *p, size_t len);
static void nest_close(struct nest **nsp);

/* NULL: a limit stopped the walk. */
static struct member *
member_new(struct scan *sc, unsigned depth, const char *name, size_t nlen)
{
	struct content_part *cp;
	struct member *mb;

	if (!count(sc, depth))
		return NULL;
	mb = xcalloc(1, sizeof(*mb));
	mb->sc = sc;
	mb->depth = depth;
	buf_init(&mb->kept, CONTENT_ARCHIVE_MAX);
	if ((mb->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(mb->md, EVP_sha256(), NULL) != 1)
		abort();	/* out of memory */
	cp = part_add(sc, depth);
	mb->part = sc->ci->nparts - 1;
	set_name(cp->name, name, nlen);
	cp->in_archive = true;
	cp->attachment = true;
	return mb;
}

/* The first octets are in: keep a zip, open a gzip or tar. */
static int
member_decide(struct member *mb)
{
	struct scan *sc = mb->sc;

	mb->decided = true;
	if (!sc->lim->archives)
		return 0;
	if (zip_is_zip(mb->head, mb->headlen)) {
		mb->keep = true;
		if (buf_append(&mb->kept, mb->head, mb->headlen) < 0)
			mb->keep_failed = true;
		return 0;
	}
	mb->nest = nest_open(sc, mb->head, mb->headlen, mb->depth + 1,
	    mb->part);
	if (mb->nest == NULL)
		return stopped(sc) ? -1 : 0;
	return nest_feed(mb->nest, mb->head, mb->headlen);
}

/* The member's next octets, counted against the budget (cut there). */
static int
member_write(struct member *mb, const uint8_t *p, size_t n)
{
	struct scan *sc = mb->sc;
	uint64_t left = budget(sc);
	bool over = false;
	size_t h;

	if (stopped(sc))
		return -1;
	if (n > left) {
		n = (size_t)left;
		over = true;
	}
	sc->ci->decoded_total += n;
	mb->size += n;
	if (EVP_DigestUpdate(mb->md, p, n) != 1)
		abort();
	if (!mb->decided) {
		h = sizeof(mb->head) - mb->headlen < n ?
		    sizeof(mb->head) - mb->headlen : n;
		memcpy(mb->head + mb->headlen, p, h);
		mb->headlen += h;
		p += h;
		n -= h;
		if (mb->headlen == sizeof(mb->head) && member_decide(mb) < 0)
			return -1;
	}
	if (n > 0 && mb->keep && !mb->keep_failed &&
	    buf_append(&mb->kept, p, n) < 0)
		mb->keep_failed = true;
	if (n > 0 && mb->nest != NULL && nest_feed(mb->nest, p, n) < 0)
		return -1;
	if (over && !stopped(sc))
		sc->ci->limit = LIMIT_SIZE;
	return stopped(sc) ? -1 : 0;
}

static int
member_sink(const uint8_t *p, size_t n, void *ctx)
{
	return member_write(ctx, p, n);
}

/* The member's content is over: whole, or cut (unread: what to call it
 * when nothing could be read). */
static void
member_end(struct member *mb, bool whole, const char *unread)
{
	struct scan *sc = mb->sc;
	struct content_part *cp;
	unsigned int hlen = 0;

	if (!mb->decided && !stopped(sc))
		(void)member_decide(mb);
	nest_close(&mb->nest);
	cp = &sc->ci->parts[mb->part];
	cp->size = mb->size;
	if (EVP_DigestFinal_ex(mb->md, cp->sha256, &hlen) != 1)
		abort();
	EVP_MD_CTX_free(mb->md);
	if (unread != NULL && mb->size == 0)
		moat_strlcpy(cp->detected, unread, sizeof(cp->detected));
	else
		moat_strlcpy(cp->detected, content_detect(mb->head,
		    mb->headlen), sizeof(cp->detected));
	if (mb->keep && mb->keep_failed && !stopped(sc))
		sc->ci->limit = LIMIT_SIZE;	/* too big to open */
	else if (mb->keep && whole && !stopped(sc))
		scan_zip(sc, mb->kept.data, mb->kept.len, mb->depth + 1);
	buf_deinit(&mb->kept);
	free(mb);
}

/* ---- gzip and tar, as they stream ---------------------------------------- */

static int
tar_begin(const struct tar_entry *e, void *ctx)
{
	struct nest *ns = ctx;

	ns->cur = member_new(ns->sc, ns->depth, e->name, strlen(e->name));
	return ns->cur == NULL ? -1 : 0;
}

static int
tar_data(const uint8_t *p, size_t n, void *ctx)
{
	struct nest *ns = ctx;

	return member_write(ns->cur, p, n);
}

static int
tar_end(bool whole, void *ctx)
{
	struct nest *ns = ctx;

	member_end(ns->cur, whole, NULL);
	ns->cur = NULL;
	return stopped(ns->sc) ? -1 : 0;
}

static const struct tar_ops nest_tar_ops = { tar_begin, tar_data, tar_end };

/* The name gunzip gives what it unpacks from outer: without a gzip
 * suffix (.gz, .z, -gz, -z, _z), .tgz and .taz as .tar; "" when outer
 * has none of them. */
static void
gzip_outer_name(const char *outer, char *dst)
{
	static const char *const sfx[] = { ".gz", ".z", "-gz", "-z", "_z" };
	size_t n = strlen(outer), i, k;

	dst[0] = '\0';
	if (n > 4 && (ascii_nieq(outer + n - 4, ".tgz", 4) ||
	    ascii_nieq(outer + n - 4, ".taz", 4))) {
		char tar[CONTENT_NAME_MAX];

		/* UNSAFE: n < CONTENT_NAME_MAX (outer is a part's name) */
		memcpy(tar, outer, n - 4);
		memcpy(tar + n - 4, ".tar", 4);
		set_name(dst, tar, n);
		return;
	}
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		k = strlen(sfx[i]);
		if (n > k && ascii_nieq(outer + n - k, sfx[i], k)) {
			set_name(dst, outer, n - k);
			return;
		}
	}
}

/* A gzip member's names: its FNAME when set, else the outer name less
 * its suffix; that one also as the other name when they differ (the
 * policy checks both: either may be what the file is saved as). */
static void
gzip_member_name(const char *outer, const char *fname,
    struct content_part *cp)
{
	char byouter[CONTENT_NAME_MAX];

	gzip_outer_name(outer, byouter);
	if (fname[0] == '\0') {
		memcpy(cp->name, byouter, sizeof(cp->name));
		return;
	}
	set_name(cp->name, fname, strlen(fname));
	if (strcmp(cp->name, byouter) != 0)
		memcpy(cp->alt_name, byouter, sizeof(cp->alt_name));
}

/* A nest for the content starting with p, when it is a gzip or a tar;
 * NULL: neither, or a limit stopped the walk (a gzip is one member). */
static struct nest *
nest_open(struct scan *sc, const uint8_t *p, size_t len, unsigned depth,
    size_t outer)
{
	struct nest *ns;
	bool gz = gzip_is_gzip(p, len);

	if (!gz && !tar_is_tar(p, len))
		return NULL;
	ns = xcalloc(1, sizeof(*ns));
	ns->sc = sc;
	ns->depth = depth;
	ns->outer = outer;
	if (!gz) {
		ns->tar = tar_new();
		return ns;
	}
	if ((ns->cur = member_new(sc, depth, "", 0)) == NULL) {
		free(ns);
		return NULL;
	}
	ns->gz = gzip_new();
	return ns;
}

/* -1: the walk stopped. */
static int
nest_feed(struct nest *ns, const uint8_t *p, size_t len)
{
	struct scan *sc = ns->sc;
	uint64_t was;
	size_t n;
	int r;

	if (ns->tar != NULL)
		return tar_feed(ns->tar, p, len, &nest_tar_ops, ns);
	while (len > 0 && !stopped(sc)) {
		n = len < GZIP_WINDOW ? len : GZIP_WINDOW;
		if (work_budget(sc) < n) {
			sc->ci->limit = LIMIT_WORK;
			break;
		}
		was = gzip_in(ns->gz);
		r = gzip_feed(ns->gz, p, n, member_sink, ns->cur);
		sc->ci->work += gzip_in(ns->gz) - was;
		if (r != GZIP_MORE)
			break;
		p += n;
		len -= n;
	}
	return stopped(sc) ? -1 : 0;
}

static void
nest_close(struct nest **nsp)
{
	struct nest *ns = *nsp;
	struct content_info *ci;
	int r;

	if (ns == NULL)
		return;
	if (ns->tar != NULL) {
		(void)tar_finish(ns->tar, &nest_tar_ops, ns);
		tar_free(&ns->tar);
	} else {
		ci = ns->sc->ci;
		gzip_member_name(ci->parts[ns->outer].name,
		    gzip_name(ns->gz), &ci->parts[ns->cur->part]);
		r = gzip_finish(ns->gz);
		member_end(ns->cur, r == 0, r == 0 ? NULL : "unreadable");
		gzip_free(&ns->gz);
	}
	free(ns);
	*nsp = NULL;
}

/* The content of the part at index outer, when it is a gzip or tar. */
static void
scan_stream(struct scan *sc, const uint8_t *p, size_t len, unsigned depth,
    size_t outer)
{
	struct nest *ns = nest_open(sc, p, len, depth, outer);

	if (ns == NULL)
		return;
	(void)nest_feed(ns, p, len);
	nest_close(&ns);
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
	struct member *mb;
	struct zip_read rd;
	size_t nlen = strlen(m->name);
	int r;

	if (nlen > 0 && m->name[nlen - 1] == '/' && m->data_len <= 2)
		return 0;	/* a directory */
	if ((mb = member_new(sc, z->depth, m->name, nlen)) == NULL)
		return -1;
	memset(&rd, 0, sizeof(rd));
	rd.max_out = budget(sc);	/* member_write counts the octets */
	rd.max_in = work_budget(sc);
	r = zip_member_read(m, &rd, member_sink, mb);
	sc->ci->work += rd.in;
	if (r == 1 && !stopped(sc))
		sc->ci->limit = LIMIT_SIZE;
	else if (r == 3 && !stopped(sc))
		sc->ci->limit = LIMIT_WORK;
	member_end(mb, r == 0, r != 2 ? NULL : m->encrypted ? "encrypted" :
	    "unreadable");
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
	size_t at;
	uint64_t left = budget(sc);
	unsigned int hlen = 0;
	bool bad = false;

	/* one more than the budget, so that reaching it is seen */
	buf_init(&out, left >= SIZE_MAX ? SIZE_MAX : (size_t)left + 1);
	cp = part_add(sc, mp->depth);
	at = sc->ci->nparts - 1;
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
	} else if (sc->lim->archives)
		scan_stream(sc, out.data, out.len, mp->depth + 1, at);
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
