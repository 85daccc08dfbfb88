/* outbreak: a message's fingerprint for outbreak protection (see
 * outbreak.h): the normalisation of its text, the MinHash band keys of
 * that text and the attachment keys. Pure functions, no I/O; the same
 * input gives the same keys in every process and across restarts (the
 * hash seeds are fixed), which the shared table needs. */
#include "outbreak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hash.h"
#include "mime.h"
#include "xalloc.h"

#define OUTBREAK_PARTS_MAX	256	/* MIME parts looked at */
#define OUTBREAK_TAG_MAX	1024	/* octets of one <tag> skipped */
#define OUTBREAK_HEX_MIN	12	/* all-hex words this long are ids */
#define OUTBREAK_HASHES		(OUTBREAK_BANDS * OUTBREAK_ROWS)

static bool
word_octet(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80;
}

static bool
hex_octet(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* An HTML-ish tag at p[0] == '<': its length through '>', or 0 when it
 * does not look like one (a lone '<' in text). */
static size_t
tag_len(const uint8_t *p, size_t len)
{
	size_t i;

	if (len < 2 || !((p[1] >= 'a' && p[1] <= 'z') ||
	    (p[1] >= 'A' && p[1] <= 'Z') || p[1] == '/' || p[1] == '!'))
		return 0;
	for (i = 1; i < len && i < OUTBREAK_TAG_MAX; i++)
		if (p[i] == '>')
			return i + 1;
	return 0;
}

long
outbreak_normalise(const uint8_t *p, size_t len, struct buf *out)
{
	char word[OUTBREAK_WORD_MAX + 1];
	char last = '\0';	/* the last placeholder written, or 0 */
	size_t i = 0, start, wl, k;
	long nwords = 0;
	bool digit, hex;
	const char *w;

	while (i < len && nwords < OUTBREAK_WORDS_MAX) {
		if (p[i] == '<' && (k = tag_len(p + i, len - i)) > 0) {
			i += k;
			continue;
		}
		if (!word_octet(p[i])) {
			i++;
			continue;
		}
		start = i;
		digit = false;
		hex = true;
		wl = 0;
		for (; i < len && word_octet(p[i]); i++) {
			uint8_t c = p[i];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			digit |= c >= '0' && c <= '9';
			hex &= hex_octet(c);
			if (wl < OUTBREAK_WORD_MAX)
				word[wl] = (char)c;
			wl++;
		}
		if (digit)
			w = "#";
		else if (wl > OUTBREAK_WORD_MAX ||
		    (hex && i - start >= OUTBREAK_HEX_MIN))
			w = "~";
		else {
			word[wl] = '\0';
			w = word;
		}
		/* "12-34-56" and "123456" are one placeholder alike. */
		if (w[1] == '\0' && (w[0] == '#' || w[0] == '~')) {
			if (last == w[0])
				continue;
			last = w[0];
		} else
			last = '\0';
		if ((out->len > 0 && buf_append(out, " ", 1) < 0) ||
		    buf_append_str(out, w) < 0)
			return -1;
		nwords++;
	}
	return nwords;
}

/* The fixed seed of MinHash function i. */
static uint64_t
seed_of(unsigned i)
{
	return hash_mix64(0x6f7574627265616bULL + (uint64_t)i *
	    0x9e3779b97f4a7c15ULL);
}

void
outbreak_text_keys(const uint8_t *norm, size_t len, struct outbreak_fp *fp)
{
	uint64_t seeds[OUTBREAK_HASHES], mins[OUTBREAK_HASHES];
	uint64_t win[OUTBREAK_SHINGLE] = { 0 }, sh, h;
	size_t i = 0, start, nwords = 0, nsh = 0;
	unsigned b, r, k;

	for (k = 0; k < OUTBREAK_HASHES; k++) {
		seeds[k] = seed_of(k);
		mins[k] = UINT64_MAX;
	}
	while (i < len) {
		while (i < len && norm[i] == ' ')
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && norm[i] != ' ')
			i++;
		win[nwords % OUTBREAK_SHINGLE] = hash_fnv1a64(norm + start,
		    i - start);
		nwords++;
		if (nwords < OUTBREAK_SHINGLE)
			continue;
		/* The shingle of the last OUTBREAK_SHINGLE words, in order. */
		sh = 0;
		for (k = 0; k < OUTBREAK_SHINGLE; k++)
			sh = hash_mix64(sh ^
			    win[(nwords + k) % OUTBREAK_SHINGLE]);
		for (k = 0; k < OUTBREAK_HASHES; k++) {
			h = hash_mix64(sh ^ seeds[k]);
			if (h < mins[k])
				mins[k] = h;
		}
		nsh++;
	}
	fp->nshingles = nsh;
	if (nsh < OUTBREAK_SHINGLES_MIN)
		return;
	for (b = 0; b < OUTBREAK_BANDS && fp->nkeys < OUTBREAK_KEYS_MAX;
	    b++) {
		h = hash_mix64(0x62616e64ULL + b);
		for (r = 0; r < OUTBREAK_ROWS; r++)
			h = hash_mix64(h ^ mins[b * OUTBREAK_ROWS + r]);
		fp->keys[fp->nkeys] = h != 0 ? h : 1;	/* 0: a free slot */
		fp->kinds[fp->nkeys] = OUTBREAK_TEXT;
		fp->nkeys++;
	}
}

/* A file worth a key: not a text part, not an inline image of a
 * signature (many senders share those), not tiny. */
static bool
attachment_part(const struct mime_part *pt)
{
	if (pt->type == NULL || strcmp(pt->type, "text") == 0 ||
	    strcmp(pt->type, "multipart") == 0 ||
	    strcmp(pt->type, "message") == 0)
		return false;
	if (strcmp(pt->type, "image") == 0 && pt->id != NULL)
		return false;
	return pt->body_len >= OUTBREAK_ATTACH_MIN;
}

static void
attachment_key(const struct mime_message *m, const struct mime_part *pt,
    struct outbreak_fp *fp, struct buf *tmp)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint64_t key = 0;
	size_t i;

	buf_reset(tmp);
	if (mime_part_decode(m, pt, tmp, NULL) < 0 ||
	    tmp->len < OUTBREAK_ATTACH_MIN ||
	    EVP_Digest(tmp->data, tmp->len, md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen < 8)
		return;
	for (i = 0; i < 8; i++)
		key = key << 8 | md[i];
	for (i = 0; i < fp->nkeys; i++)
		if (fp->keys[i] == key)
			return;		/* the same file twice */
	fp->keys[fp->nkeys] = key != 0 ? key : 1;
	fp->kinds[fp->nkeys] = OUTBREAK_ATTACHMENT;
	fp->nkeys++;
}

void
outbreak_fingerprint(const uint8_t *msg, size_t len, struct outbreak_fp *fp)
{
	struct mime_message *m;
	const struct mime_part *pt;
	uint64_t attach[OUTBREAK_ATTACH_MAX];
	char kinds[OUTBREAK_ATTACH_MAX];
	struct buf text, norm;
	size_t nattach, i;
	unsigned nparts = 0;

	memset(fp, 0, sizeof(*fp));
	m = mime_parse(msg, len);
	buf_init(&text, OUTBREAK_PART_MAX);
	buf_init(&norm, OUTBREAK_TEXT_MAX);
	/* Attachment keys first into fp, then moved after the text keys:
	 * the text keys come first in listings. */
	for (pt = m->root; pt != NULL && nparts < OUTBREAK_PARTS_MAX;
	    pt = mime_part_next(pt), nparts++) {
		if (pt->children != NULL)
			continue;
		if (pt->type == NULL || strcmp(pt->type, "text") == 0) {
			buf_reset(&text);
			if (mime_part_text(m, pt, &text) != 0 || text.len == 0)
				continue;
			if (norm.len > 0 && buf_append(&norm, " ", 1) < 0)
				break;
			if (outbreak_normalise(text.data, text.len, &norm) < 0)
				break;	/* enough text */
		} else if (attachment_part(pt) &&
		    fp->nkeys < OUTBREAK_ATTACH_MAX)
			attachment_key(m, pt, fp, &text);
	}
	nattach = fp->nkeys;
	memcpy(attach, fp->keys, nattach * sizeof(attach[0]));
	memcpy(kinds, fp->kinds, nattach);
	fp->nkeys = 0;
	outbreak_text_keys(norm.data, norm.len, fp);
	for (i = 0; i < nattach && fp->nkeys < OUTBREAK_KEYS_MAX; i++) {
		fp->keys[fp->nkeys] = attach[i];
		fp->kinds[fp->nkeys] = kinds[i];
		fp->nkeys++;
	}
	buf_deinit(&text);
	buf_deinit(&norm);
	mime_message_free(&m);
}

const char *
outbreak_key_format(char kind, uint64_t key, char *buf, size_t len)
{
	snprintf(buf, len, "%c:%016llx", kind, (unsigned long long)key);
	return buf;
}

int
outbreak_key_parse(const char *s, uint64_t *key)
{
	uint64_t v = 0;
	size_t n = 0;

	if ((s[0] == 't' || s[0] == 'a') && s[1] == ':')
		s += 2;
	for (; *s != '\0'; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (n >= 16)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (n == 0 || v == 0)
		return -1;
	*key = v;
	return 0;
}
