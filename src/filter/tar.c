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
#define PAX_KEY_MAX	16	/* "path", "size": longer keys ignored */
#define PAX_DIGITS_MAX	18	/* a record length (fits in 64 bits) */

enum tar_state {
	T_HEADER = 0,	/* collecting a header block */
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

struct tar_reader {
	enum tar_state	 state;
	uint8_t		 hdr[TAR_BLOCK];
	size_t		 hdrlen;
	uint64_t	 left;		/* of the entry's data */
	uint64_t	 pad;		/* after it */
	bool		 in_file;	/* begin called, end not yet */
	/* what extended headers said about the next header */
	char		 name[2 * TAR_NAME_MAX];	/* fname_push */
	size_t		 namelen;
	bool		 name_cut;	/* its start was dropped */
	bool		 has_name;
	bool		 name_ended;	/* an 'L' name's NUL was seen */
	uint64_t	 size;
	bool		 has_size;
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

bool
tar_is_tar(const uint8_t *p, size_t len)
{
	return len >= TAR_BLOCK && memcmp(p + OFF_MAGIC, "ustar", 5) == 0 &&
	    header_valid(p);
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

	if (t->has_name && t->namelen > 0) {
		fname_keep(e->name, TAR_NAME_MAX, (const uint8_t *)t->name,
		    t->namelen, t->name_cut);
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
	t->has_name = false;
	t->has_size = false;
	t->namelen = 0;
	t->name_cut = false;
	t->name_ended = false;
}

static void
pax_apply(struct tar_reader *t)
{
	uint64_t v = 0;
	size_t i;

	if (t->key_cut)
		return;
	if (t->keylen == 4 && memcmp(t->key, "path", 4) == 0) {
		memcpy(t->name, t->val, t->vallen);
		t->namelen = t->vallen;
		t->name_cut = t->val_cut;
		t->has_name = true;
	} else if (t->keylen == 4 && memcmp(t->key, "size", 4) == 0 &&
	    !t->val_cut && t->vallen > 0) {
		for (i = 0; i < t->vallen; i++) {
			if (t->val[i] < '0' || t->val[i] > '9')
				return;
			v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
			    v * 10 + (uint64_t)(t->val[i] - '0');
		}
		t->size = v;
		t->has_size = true;
	}
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
		} else
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
		t->has_name = true;
		t->namelen = 0;
		t->name_cut = false;
		t->name_ended = false;
		t->state = T_LONGNAME;
		break;
	case 'x':
	case 'X':
		t->pax = PAX_LEN;
		t->rec_left = 0;
		t->digits = 0;
		t->state = T_PAX;
		break;
	case 'K':
	case 'g':
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
		forget_extended(t);
		t->state = T_FILE;
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
	if (size == 0)
		to_pad(t);
	return 0;
}

/* The entry's data ended (t->left is 0). */
static int
data_done(struct tar_reader *t, const struct tar_ops *ops, void *ctx)
{
	enum tar_state was = t->state;

	to_pad(t);
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
		default:	/* the entry's data */
			n = t->left < len ? (size_t)t->left : len;
			if (t->state == T_FILE && ops->data(p, n, ctx) < 0) {
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

	if (t->in_file) {
		t->in_file = false;
		(void)ops->end(false, ctx);
		cut = 1;
	}
	t->state = T_STOPPED;
	return cut;
}
