/* tar: see tar.h. Header layout from POSIX.1-2017 pax(1), "ustar
 * Interchange Format" (name 0/100, size 124/12, chksum 148/8, typeflag
 * 156, magic 257/6, prefix 345/155) and its extended header records
 * ("%d %s=%s\n", the length counting the whole record); GNU tar's 'L'
 * long names and base-256 sizes from its tar.h. Numbers are read the
 * way Python's tarfile reads them (nti: up to the first NUL, blanks
 * around octal digits). */
#include "tar.h"

#include <stdlib.h>
#include <string.h>

#include "fname.h"
#include "xalloc.h"

#define OFF_NAME	0
#define LEN_NAME	100
#define OFF_SIZE	124
#define LEN_SIZE	12
#define OFF_CHKSUM	148
#define LEN_CHKSUM	8
#define OFF_TYPE	156
#define OFF_MAGIC	257
#define OFF_PREFIX	345
#define LEN_PREFIX	155
#define OFF_ISEXT	482	/* old GNU 'S': extension blocks follow */
#define OFF_EXT_ISEXT	504	/* in an extension block: another follows */
#define PAX_KEY_MAX	24	/* "GNU.sparse.realsize": longer ignored */
#define PAX_DIGITS_MAX	18	/* a record length (fits in 64 bits) */
#define SPARSE_EXT_MAX	4096	/* old GNU extension blocks skipped */
#define SMAP_PAIRS_MAX	4096	/* GNU sparse 1.0 map: offset/size pairs */
#define SMAP_DIGITS_MAX	20	/* a number of the map (64 bits) */

enum tar_state {
	T_HEADER = 0,	/* collecting a header block */
	T_SPARSE_EXT,	/* old GNU sparse extension blocks, before data */
	T_FILE,		/* a file's content */
	T_LONGNAME,	/* a GNU 'L' entry: the next name */
	T_PAX,		/* a pax 'x' entry: records for the next header */
	T_SKIP,		/* another entry's data, not a file */
	T_PAD,		/* to the end of the last block */
	T_STOPPED,
};

enum pax_state {
	PAX_LEN = 0,
	PAX_KEY,
	PAX_VALUE,
	PAX_BAD,	/* the rest of this entry is ignored */
};

/* Where a name came from: a higher one is not replaced by a lower one
 * (GNU tar: pax path over an 'L' name, whatever their order; Python and
 * GNU tar: GNU.sparse.name over path). */
enum name_src {
	NAME_NONE = 0,
	NAME_LONG,	/* GNU 'L' */
	NAME_PAX,	/* pax path */
	NAME_SPARSE,	/* pax GNU.sparse.name */
};

/* The map at the start of a GNU sparse 1.0 file's data: decimal lines
 * (a count, then offset and size pairs), padded to a block. */
enum smap_state {
	SMAP_OFF = 0,
	SMAP_LINES,
	SMAP_PAD,
};

struct tar_reader {
	enum tar_state	 state;
	uint8_t		 hdr[TAR_BLOCK];
	size_t		 hdrlen;
	uint64_t	 left;		/* of the entry's data */
	uint64_t	 pad;		/* after it */
	bool		 in_file;	/* begin called, end not yet */
	/* a sparse 1.0 file: begin waits for the end of its map, so that
	 * the size given is that of the data handed out */
	bool		 begin_pending;
	struct tar_entry pending;
	/* what extended headers said about the next header */
	char		 name[2 * TAR_NAME_MAX];	/* fname_push */
	size_t		 namelen;
	bool		 name_cut;	/* its start was dropped */
	enum name_src	 name_src;
	bool		 name_ended;	/* an 'L' name's NUL was seen */
	uint64_t	 size;
	bool		 has_size;
	bool		 sparse_major1;	/* GNU.sparse.major=1 */
	bool		 sparse_minor0;	/* GNU.sparse.minor=0 */
	/* what pax global headers ('g') said about all that follow */
	char		 gname[2 * TAR_NAME_MAX];
	size_t		 gnamelen;
	bool		 gname_cut;
	enum name_src	 gname_src;
	/* old GNU sparse extension blocks being skipped */
	size_t		 ext_at;	/* octets into the block */
	unsigned	 ext_blocks;
	bool		 ext_more;	/* its isextended octet */
	/* a GNU sparse 1.0 map being skipped */
	enum smap_state	 smap;
	uint64_t	 smap_len;	/* octets of it so far */
	unsigned	 smap_lines;
	unsigned	 smap_want;	/* lines it has, the count's included */
	unsigned	 smap_digits;	/* of the current line */
	uint64_t	 smap_num;
	/* the pax record being read */
	enum pax_state	 pax;
	uint64_t	 rec_left;	/* octets of the record after this */
	unsigned	 digits;
	char		 key[PAX_KEY_MAX];
	size_t		 keylen;
	bool		 key_cut;
	char		 val[2 * TAR_NAME_MAX];	/* fname_push */
	size_t		 vallen;
	bool		 val_cut;
	bool		 val_ended;	/* a NUL ended the value */
	bool		 pax_global;	/* a 'g' header's records */
};

/* An octal field: blanks, digits, blanks, then a NUL or the end. */
static bool
octal(const uint8_t *p, size_t n, uint64_t *v_r)
{
	size_t i = 0;
	uint64_t v = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(p[i] - '0');	/* n <= 12 digits */
	while (i < n && p[i] == ' ')
		i++;
	if (i < n && p[i] != '\0')
		return false;
	*v_r = v;
	return true;
}

/* The size field: octal, or GNU base-256 (first octet 0x80). Past 64
 * bits: all the rest of the archive. */
static bool
field_size(const uint8_t *h, uint64_t *v_r)
{
	const uint8_t *p = h + OFF_SIZE;
	uint64_t v;
	size_t i;

	if ((p[0] & 0x80) == 0)
		return octal(p, LEN_SIZE, v_r);
	if (p[0] == 0xff)
		return false;		/* negative */
	v = p[0] & 0x7f;
	for (i = 1; i < LEN_SIZE; i++) {
		if (v > UINT64_MAX >> 8) {
			*v_r = UINT64_MAX;
			return true;
		}
		v = v << 8 | p[i];
	}
	*v_r = v;
	return true;
}

/* The checksum: the octets summed with the field itself as blanks,
 * unsigned (POSIX) or signed (old Sun tars). */
static bool
header_valid(const uint8_t *h)
{
	uint64_t want;
	int64_t ssum = 0;
	uint64_t usum = 0;
	size_t i;
	uint8_t c;

	if (!octal(h + OFF_CHKSUM, LEN_CHKSUM, &want))
		return false;
	for (i = 0; i < TAR_BLOCK; i++) {
		c = i >= OFF_CHKSUM && i < OFF_CHKSUM + LEN_CHKSUM ? ' ' :
		    h[i];
		usum += c;
		ssum += (int8_t)c;
	}
	return want == usum || (ssum >= 0 && want == (uint64_t)ssum);
}

/* A header among the first TAR_RESYNC_BLOCKS blocks: V7 headers have no
 * magic, and GNU tar skips junk to the next valid header. The checksum
 * must match (an all-zero block does not: its sum is of the blanks);
 * the field must hold octal digits equal to the block's sum, which
 * random data or text almost never does by chance. */
bool
tar_is_tar(const uint8_t *p, size_t len)
{
	uint64_t size;
	size_t i;

	for (i = 0; i < TAR_RESYNC_BLOCKS && i < len / TAR_BLOCK; i++) {
		if (header_valid(p + i * TAR_BLOCK) &&
		    field_size(p + i * TAR_BLOCK, &size))
			return true;
	}
	return false;
}

struct tar_reader *
tar_new(void)
{
	return xcalloc(1, sizeof(struct tar_reader));
}

void
tar_free(struct tar_reader **tp)
{
	free(*tp);
	*tp = NULL;
}

static size_t
field_len(const uint8_t *p, size_t n)
{
	const uint8_t *z = memchr(p, '\0', n);

	return z != NULL ? (size_t)(z - p) : n;
}

/* The entry's name: what an extended header said, else POSIX prefix
 * "/" name (GNU tar keeps other fields where the prefix would be). */
static void
entry_name(const struct tar_reader *t, struct tar_entry *e)
{
	const uint8_t *h = t->hdr;
	size_t np, nn, at = 0;

	uint8_t full[LEN_PREFIX + 1 + LEN_NAME];

	if (t->name_src != NAME_NONE && t->namelen > 0) {
		fname_keep(e->name, TAR_NAME_MAX, (const uint8_t *)t->name,
		    t->namelen, t->name_cut);
		return;
	}
	if (t->gname_src != NAME_NONE && t->gnamelen > 0) {
		fname_keep(e->name, TAR_NAME_MAX, (const uint8_t *)t->gname,
		    t->gnamelen, t->gname_cut);
		return;
	}
	nn = field_len(h + OFF_NAME, LEN_NAME);
	if (memcmp(h + OFF_MAGIC, "ustar\0", 6) == 0 &&
	    (np = field_len(h + OFF_PREFIX, LEN_PREFIX)) > 0) {
		memcpy(full, h + OFF_PREFIX, np);
		full[np] = '/';
		at = np + 1;
	}
	memcpy(full + at, h + OFF_NAME, nn);
	/* 155 + 1 + 100 octets may not fit: the end is kept */
	fname_keep(e->name, TAR_NAME_MAX, full, at + nn, false);
}

static void
forget_extended(struct tar_reader *t)
{
	t->name_src = NAME_NONE;
	t->has_size = false;
	t->namelen = 0;
	t->name_cut = false;
	t->name_ended = false;
	t->sparse_major1 = false;
	t->sparse_minor0 = false;
}

/* A pax value of decimal digits only. */
static bool
pax_number(const struct tar_reader *t, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (t->val_cut || t->vallen == 0)
		return false;
	for (i = 0; i < t->vallen; i++) {
		if (t->val[i] < '0' || t->val[i] > '9')
			return false;
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
		    v * 10 + (uint64_t)(t->val[i] - '0');
	}
	*v_r = v;
	return true;
}

/* The value names the next entry (or all that follow, for a 'g'),
 * unless a name of a higher source is already there. */
static void
pax_name(struct tar_reader *t, enum name_src src)
{
	char *name = t->pax_global ? t->gname : t->name;
	size_t *lenp = t->pax_global ? &t->gnamelen : &t->namelen;
	bool *cutp = t->pax_global ? &t->gname_cut : &t->name_cut;
	enum name_src *srcp = t->pax_global ? &t->gname_src : &t->name_src;

	if (*srcp > src)
		return;
	memcpy(name, t->val, t->vallen);
	*lenp = t->vallen;
	*cutp = t->val_cut;
	*srcp = src;
}

static bool
key_is(const struct tar_reader *t, const char *k)
{
	return t->keylen == strlen(k) && memcmp(t->key, k, t->keylen) == 0;
}

static void
pax_apply(struct tar_reader *t)
{
	uint64_t v = 0;

	if (t->key_cut)
		return;
	if (key_is(t, "path"))
		pax_name(t, NAME_PAX);
	else if (key_is(t, "GNU.sparse.name"))
		pax_name(t, NAME_SPARSE);
	else if (t->pax_global)
		return;		/* sizes and maps are the next entry's */
	else if (key_is(t, "size") && pax_number(t, &v)) {
		t->size = v;
		t->has_size = true;
	} else if (key_is(t, "GNU.sparse.major"))
		t->sparse_major1 = pax_number(t, &v) && v == 1;
	else if (key_is(t, "GNU.sparse.minor"))
		t->sparse_minor0 = pax_number(t, &v) && v == 0;
}

/* One octet of a pax extended header's records. */
static void
pax_octet(struct tar_reader *t, uint8_t c)
{
	switch (t->pax) {
	case PAX_LEN:
		if (c >= '0' && c <= '9' && t->digits < PAX_DIGITS_MAX) {
			t->rec_left = t->rec_left * 10 + (c - '0');
			t->digits++;
		} else if (c == ' ' && t->digits > 0 &&
		    t->rec_left > t->digits + 1) {
			t->rec_left -= t->digits + 1;	/* the rest */
			t->keylen = 0;
			t->key_cut = false;
			t->vallen = 0;
			t->val_cut = false;
			t->val_ended = false;
			t->pax = PAX_KEY;
		} else
			t->pax = PAX_BAD;
		break;
	case PAX_KEY:
		if (--t->rec_left == 0)
			t->pax = PAX_BAD;	/* no room for the value */
		else if (c == '=')
			t->pax = PAX_VALUE;
		else if (t->keylen < sizeof(t->key))
			t->key[t->keylen++] = (char)c;
		else
			t->key_cut = true;	/* not one we read */
		break;
	case PAX_VALUE:
		if (--t->rec_left == 0) {
			if (c == '\n')
				pax_apply(t);
			t->rec_left = 0;
			t->digits = 0;
			t->pax = c == '\n' ? PAX_LEN : PAX_BAD;
		} else if (c == '\0')
			t->val_ended = true;	/* a C string ends there */
		else if (!t->val_ended)
			fname_push(t->val, sizeof(t->val), &t->vallen,
			    &t->val_cut, &c, 1);
		break;
	case PAX_BAD:
		break;
	}
}

static void
longname_take(struct tar_reader *t, const uint8_t *p, size_t n)
{
	const uint8_t *nul;

	if (t->name_ended)
		return;
	if ((nul = memchr(p, '\0', n)) != NULL) {
		n = (size_t)(nul - p);
		t->name_ended = true;
	}
	fname_push(t->name, sizeof(t->name), &t->namelen, &t->name_cut, p,
	    n);
}

/* After an entry's data: its padding, then the next header. */
static void
to_pad(struct tar_reader *t)
{
	t->state = t->pad > 0 ? T_PAD : T_HEADER;
}

/* n octets of an old GNU sparse extension block (up to its end). True
 * when the last was skipped: the file's data follows. */
static bool
sparse_ext(struct tar_reader *t, const uint8_t *p, size_t n)
{
	if (t->ext_at <= OFF_EXT_ISEXT && OFF_EXT_ISEXT < t->ext_at + n)
		t->ext_more = p[OFF_EXT_ISEXT - t->ext_at] != 0;
	t->ext_at += n;
	if (t->ext_at < TAR_BLOCK)
		return false;
	t->ext_at = 0;
	/* past the limit the rest is taken as the file's data */
	if (t->ext_more && ++t->ext_blocks < SPARSE_EXT_MAX)
		return false;
	t->state = T_FILE;
	return true;
}

/* One octet at the start of a GNU sparse 1.0 file's data: false when it
 * is the file's (the map and its padding are over, or the map is bad:
 * the rest is taken as data, as it may be). */
static bool
smap_octet(struct tar_reader *t, uint8_t c)
{
	if (t->smap == SMAP_LINES) {
		if (c >= '0' && c <= '9' && t->smap_digits < SMAP_DIGITS_MAX) {
			t->smap_num = t->smap_num * 10 + (c - '0');
			t->smap_digits++;
		} else if (c == '\n' && t->smap_digits > 0) {
			if (t->smap_lines == 0) {
				if (t->smap_num > SMAP_PAIRS_MAX) {
					t->smap = SMAP_OFF;
					return false;
				}
				t->smap_want = 1 + 2 * (unsigned)t->smap_num;
			}
			t->smap_lines++;
			t->smap_digits = 0;
			t->smap_num = 0;
			if (t->smap_lines == t->smap_want)
				t->smap = SMAP_PAD;
		} else {
			t->smap = SMAP_OFF;
			return false;
		}
		t->smap_len++;
		if (t->smap == SMAP_PAD && t->smap_len % TAR_BLOCK == 0)
			t->smap = SMAP_OFF;
		return true;
	}
	/* SMAP_PAD */
	if (t->smap_len % TAR_BLOCK == 0) {
		t->smap = SMAP_OFF;
		return false;
	}
	t->smap_len++;
	return true;
}

/* The pending begin of a sparse 1.0 file, its size what is left of its
 * data after the map. */
static int
begin_now(struct tar_reader *t, uint64_t size, const struct tar_ops *ops,
    void *ctx)
{
	t->begin_pending = false;
	t->pending.size = size;
	t->in_file = true;
	if (ops->begin(&t->pending, ctx) < 0) {
		t->in_file = false;
		return -1;
	}
	return 0;
}

/* A whole header block is in t->hdr. -1: a callback stopped. */
static int
header(struct tar_reader *t, const struct tar_ops *ops, void *ctx)
{
	struct tar_entry e;
	uint64_t size;
	uint8_t type = t->hdr[OFF_TYPE];

	/* zero blocks (the end) and garbage: skipped, the next block may
	 * be a header again */
	if (!header_valid(t->hdr) || !field_size(t->hdr, &size))
		return 0;
	switch (type) {
	case 'L':
		if (t->name_src <= NAME_LONG) {
			t->name_src = NAME_LONG;
			t->namelen = 0;
			t->name_cut = false;
			t->name_ended = false;
		} else
			t->name_ended = true;	/* a pax name wins */
		t->state = T_LONGNAME;
		break;
	case 'x':
	case 'X':
	case 'g':
		t->pax = PAX_LEN;
		t->rec_left = 0;
		t->digits = 0;
		t->pax_global = type == 'g';
		t->state = T_PAX;
		break;
	case 'K':
	case 'V':
		t->state = T_SKIP;
		break;
	case '1': case '2': case '3': case '4': case '5': case '6':
		/* links, devices, directories: no data, whatever the
		 * size says (as Python reads them) */
		forget_extended(t);
		return 0;
	default:
		/* '0', '\0', '7' and any unknown type: a file */
		if (t->has_size)
			size = t->size;
		memset(&e, 0, sizeof(e));
		entry_name(t, &e);
		e.size = size;
		e.type = (char)type;
		t->smap = t->sparse_major1 && t->sparse_minor0 ? SMAP_LINES :
		    SMAP_OFF;
		t->smap_len = 0;
		t->smap_lines = 0;
		t->smap_want = 1;
		t->smap_digits = 0;
		t->smap_num = 0;
		forget_extended(t);
		t->state = T_FILE;
		if (type == 'S' && t->hdr[OFF_ISEXT] != 0) {
			/* not counted in the size (GNU tar, Python) */
			t->state = T_SPARSE_EXT;
			t->ext_at = 0;
			t->ext_blocks = 0;
		}
		if (t->smap != SMAP_OFF && size > 0) {
			t->pending = e;
			t->begin_pending = true;
			break;
		}
		t->in_file = true;
		if (ops->begin(&e, ctx) < 0) {
			t->in_file = false;
			return -1;
		}
		break;
	}
	t->left = size;
	t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	if (size == 0 && t->state == T_FILE) {
		t->in_file = false;
		to_pad(t);
		return ops->end(true, ctx);
	}
	if (size == 0 && t->state != T_SPARSE_EXT)
		to_pad(t);
	return 0;
}

/* The entry's data ended (t->left is 0). */
static int
data_done(struct tar_reader *t, const struct tar_ops *ops, void *ctx)
{
	enum tar_state was = t->state;

	to_pad(t);
	/* all map: still a file, an empty one */
	if (was == T_FILE && t->begin_pending && begin_now(t, 0, ops, ctx) < 0)
		return -1;
	if (was == T_FILE) {
		t->in_file = false;
		return ops->end(true, ctx);
	}
	return 0;	/* a pax record cut by the entry's end is dropped */
}

int
tar_feed(struct tar_reader *t, const uint8_t *p, size_t len,
    const struct tar_ops *ops, void *ctx)
{
	size_t n, i;

	while (len > 0 && t->state != T_STOPPED) {
		switch (t->state) {
		case T_HEADER:
			n = TAR_BLOCK - t->hdrlen < len ? TAR_BLOCK -
			    t->hdrlen : len;
			memcpy(t->hdr + t->hdrlen, p, n);
			t->hdrlen += n;
			if (t->hdrlen == TAR_BLOCK) {
				t->hdrlen = 0;
				if (header(t, ops, ctx) < 0)
					t->state = T_STOPPED;
			}
			break;
		case T_PAD:
			n = t->pad < len ? (size_t)t->pad : len;
			t->pad -= n;
			if (t->pad == 0)
				t->state = T_HEADER;
			break;
		case T_SPARSE_EXT:
			n = TAR_BLOCK - t->ext_at < len ? TAR_BLOCK -
			    t->ext_at : len;
			if (sparse_ext(t, p, n) && t->left == 0 &&
			    data_done(t, ops, ctx) < 0)
				t->state = T_STOPPED;
			break;
		default:	/* the entry's data */
			n = t->left < len ? (size_t)t->left : len;
			/* a sparse map's octets are not the file's */
			for (i = 0; t->state == T_FILE && t->smap != SMAP_OFF &&
			    i < n && smap_octet(t, p[i]); i++)
				;
			if (t->state == T_FILE && t->begin_pending &&
			    t->smap == SMAP_OFF &&
			    begin_now(t, t->left - i, ops, ctx) < 0) {
				t->state = T_STOPPED;
				break;
			}
			if (t->state == T_FILE && n > i &&
			    ops->data(p + i, n - i, ctx) < 0) {
				t->state = T_STOPPED;
				break;
			}
			if (t->state == T_LONGNAME)
				longname_take(t, p, n);
			else if (t->state == T_PAX)
				for (i = 0; i < n; i++)
					pax_octet(t, p[i]);
			t->left -= n;
			if (t->left == 0 && data_done(t, ops, ctx) < 0)
				t->state = T_STOPPED;
			break;
		}
		/* UNSAFE: every case took n <= len octets */
		p += n;
		len -= n;
	}
	return t->state == T_STOPPED ? -1 : 0;
}

int
tar_finish(struct tar_reader *t, const struct tar_ops *ops, void *ctx)
{
	int cut = t->hdrlen > 0 || (t->state != T_HEADER &&
	    t->state != T_PAD && t->state != T_STOPPED);

	if (t->begin_pending && t->state != T_STOPPED)	/* cut in its map */
		(void)begin_now(t, t->left, ops, ctx);
	if (t->in_file) {
		t->in_file = false;
		(void)ops->end(false, ctx);
		cut = 1;
	}
	t->state = T_STOPPED;
	return cut;
}
