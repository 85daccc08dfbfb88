/* tokenize: the tokens of one message for the Bayesian filter: header
 * tokens by field, words of the decoded text parts, link hosts of HTML,
 * and "special:" tokens for the shape of the message. See tokenize.h.
 *
 * Words follow SpamBayes' findings (Tim Peters et al.): split the text on
 * white space only, so that "free!" and "free" differ; keep words of 3 to
 * 12 octets; a longer word says little by itself, but its first letter
 * and length bucket do ("skip:h 20"). Header words carry the field name,
 * since "viagra" in a Subject and in a quoted reply are different clues. */
#include "tokenize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hash.h"
#include "mime.h"
#include "xalloc.h"

#define TOKENIZE_SLOTS		8192	/* power of two > 2 * TOKENS_MAX */
#define TOKENIZE_NAME_MAX	40	/* header names we look at */
#define TOKENIZE_URL_PATH_MAX	8	/* path pieces per link */
#define TOKENIZE_HDR_MAX	8192	/* decoded octets of one field */
#define TOKENIZE_HOST_MAX	255	/* RFC 1035 */
#define TOKENIZE_EMAIL_MAX	40	/* longer '@' words are skipped */

_Static_assert((TOKENIZE_SLOTS & (TOKENIZE_SLOTS - 1)) == 0,
    "TOKENIZE_SLOTS must be a power of two");
_Static_assert(TOKENIZE_SLOTS > 2 * TOKENIZE_TOKENS_MAX,
    "the token table must stay at most half full");
_Static_assert(TOKENIZE_TOKENS_MAX < UINT16_MAX, "slot indexes are 16 bit");

struct tok {
	uint32_t	off;	/* in pool */
	uint32_t	len;
	uint64_t	hash;
};

struct tokenize {
	struct tok	 tok[TOKENIZE_TOKENS_MAX];
	size_t		 ntok;
	uint16_t	 slot[TOKENIZE_SLOTS];	/* tok index + 1; 0: empty */
	uint8_t		 pool[TOKENIZE_TOKENS_MAX * TOKENIZE_TOKEN_MAX];
	size_t		 pool_len;
	bool		 truncated;
	size_t		 text_left;	/* of TOKENIZE_TEXT_MAX */

	/* Shape of the message, for the special tokens. */
	size_t		 words;
	size_t		 caps_words;
	size_t		 excl;		/* '!' in the text */
	size_t		 excl_runs;	/* "!!!" or longer */
	bool		 has_plain;
	bool		 has_html;
	bool		 bad_encoding;

	struct buf	 raw;		/* decoded part */
	struct buf	 text;		/* HTML as text */
	struct buf	 hdr;		/* decoded header field */
};

static inline uint8_t
lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static inline bool
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

static inline bool
is_alpha(uint8_t c)
{
	return (c | 32) >= 'a' && (c | 32) <= 'z';
}

static inline bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Octets of a header word: letters, digits, 8-bit, and the few marks
 * that make "$100", "50%" and "e-mail" one word. */
static inline bool
is_word(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c >= 0x80 || c == '$' ||
	    c == '%' || c == '-' || c == '\'' || c == '_' || c == '.';
}

static inline bool
is_host(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' ||
	    c == '_';
}

uint64_t
tokenize_hash(const uint8_t *p, size_t len)
{
	return hash_fnv1a64(p, len);
}

struct tokenize *
tokenize_new(void)
{
	struct tokenize *t = xcalloc(1, sizeof(*t));

	buf_init(&t->raw, TOKENIZE_TEXT_MAX);
	buf_init(&t->text, TOKENIZE_TEXT_MAX);
	buf_init(&t->hdr, TOKENIZE_HDR_MAX);
	return t;
}

void
tokenize_free(struct tokenize **tp)
{
	struct tokenize *t = *tp;

	if (t == NULL)
		return;
	buf_deinit(&t->raw);
	buf_deinit(&t->text);
	buf_deinit(&t->hdr);
	free(t);
	*tp = NULL;
}

size_t
tokenize_count(const struct tokenize *t)
{
	return t->ntok;
}

const uint8_t *
tokenize_token(const struct tokenize *t, size_t i, size_t *len_r)
{
	*len_r = t->tok[i].len;
	return t->pool + t->tok[i].off;
}

uint64_t
tokenize_token_hash(const struct tokenize *t, size_t i)
{
	return t->tok[i].hash;
}

bool
tokenize_truncated(const struct tokenize *t)
{
	return t->truncated;
}

/* Put a finished token (1..TOKENIZE_TOKEN_MAX octets) into the set. */
static void
add_raw(struct tokenize *t, const uint8_t *p, size_t len)
{
	uint64_t h = tokenize_hash(p, len);
	size_t i = (size_t)h & (TOKENIZE_SLOTS - 1);
	struct tok *k;

	while (t->slot[i] != 0) {
		k = &t->tok[t->slot[i] - 1];
		if (k->hash == h && k->len == len &&
		    memcmp(t->pool + k->off, p, len) == 0)
			return;
		i = (i + 1) & (TOKENIZE_SLOTS - 1);
	}
	if (t->ntok == TOKENIZE_TOKENS_MAX) {
		t->truncated = true;
		return;
	}
	/* The pool holds TOKENS_MAX tokens of TOKEN_MAX octets. */
	k = &t->tok[t->ntok];
	k->off = (uint32_t)t->pool_len;
	k->len = (uint32_t)len;
	k->hash = h;
	memcpy(t->pool + t->pool_len, p, len);
	t->pool_len += len;
	t->slot[i] = (uint16_t)++t->ntok;
}

/* prefix then w lower-cased (ASCII only), cut at TOKENIZE_TOKEN_MAX. */
static void
add(struct tokenize *t, const char *prefix, const uint8_t *w, size_t n)
{
	uint8_t tok[TOKENIZE_TOKEN_MAX];
	size_t plen = strlen(prefix), len, i;

	if (plen >= sizeof(tok))
		return;
	memcpy(tok, prefix, plen);
	len = plen;
	for (i = 0; i < n && len < sizeof(tok); i++)
		tok[len++] = lc(w[i]);
	if (len > 0)
		add_raw(t, tok, len);
}

/* prefix then w as it is (case kept), cut at TOKENIZE_TOKEN_MAX. */
static void
add_raw_prefixed(struct tokenize *t, const char *prefix, const uint8_t *w,
    size_t n)
{
	uint8_t tok[TOKENIZE_TOKEN_MAX];
	size_t plen = strlen(prefix);

	if (plen >= sizeof(tok))
		return;
	memcpy(tok, prefix, plen);
	if (n > sizeof(tok) - plen)
		n = sizeof(tok) - plen;
	memcpy(tok + plen, w, n);
	add_raw(t, tok, plen + n);
}

static void
add_str(struct tokenize *t, const char *prefix, const char *s)
{
	add(t, prefix, (const uint8_t *)s, strlen(s));
}

/* "special:NAME:N" with n put in a power-of-two bucket (0, 1, 2, 4 ...),
 * so that the count generalizes. */
static void
add_bucket(struct tokenize *t, const char *prefix, size_t n)
{
	char num[24];
	size_t b = 1, i = sizeof(num);

	if (n == 0)
		b = 0;
	else
		while (b * 2 <= n && b < ((size_t)1 << 30))
			b *= 2;
	num[--i] = '\0';
	do {
		num[--i] = (char)('0' + b % 10);
		b /= 10;
	} while (b > 0 && i > 0);
	add_str(t, prefix, num + i);
}

/* Host names: the name and its last two labels ("dom:"). */
static void
add_host(struct tokenize *t, const char *prefix, const char *dprefix,
    const uint8_t *h, size_t n)
{
	size_t i, dots = 0;

	while (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0)
		return;
	add(t, prefix, h, n);
	for (i = n; i > 0; i--)
		if (h[i - 1] == '.' && ++dots == 2)
			break;
	if (dots == 2)
		add(t, dprefix, h + i, n - i);
}

/*
 * URLs and addresses in text
 */

/* A link: "url:HOST", "url:dom:D" (last two labels), "url:ip" for a
 * numeric host, and a few pieces of the path ("urlpath:"). p points at
 * the host (after "scheme://"). */
static void
url(struct tokenize *t, const uint8_t *p, size_t len)
{
	size_t i, n, s, pieces = 0, digits = 0;
	const uint8_t *at;

	/* userinfo@ is a classic way to dress up a host */
	for (n = 0; n < len && p[n] != '/' && p[n] != '?' && p[n] != '#'; n++)
		;
	at = memchr(p, '@', n);
	if (at != NULL) {
		add_str(t, "special:", "url_userinfo");
		/* UNSAFE: at is within p[0..n). */
		len -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	for (n = 0; n < len && n < TOKENIZE_HOST_MAX && is_host(p[n]); n++)
		if (is_digit(p[n]) || p[n] == '.')
			digits++;
	if (n == 0)
		return;
	if (digits == n)
		add_str(t, "url:", "ip");
	else
		add_host(t, "url:", "url:dom:", p, n);
	/* The path: its words say what kind of page it is. */
	for (i = n; i < len && pieces < TOKENIZE_URL_PATH_MAX; ) {
		while (i < len && !is_alpha(p[i]) && !is_digit(p[i]))
			i++;
		for (s = i; i < len && (is_alpha(p[i]) || is_digit(p[i])); i++)
			;
		if (i - s >= TOKENIZE_WORD_MIN && i - s <= TOKENIZE_WORD_MAX) {
			add(t, "urlpath:", p + s, i - s);
			pieces++;
		}
	}
}

/* If w holds a link, tokenize it and return true. */
static bool
word_url(struct tokenize *t, const uint8_t *w, size_t n)
{
	const uint8_t *s;
	size_t off, b;

	s = memmem(w, n, "://", 3);
	if (s != NULL) {
		/* UNSAFE: s is within w[0..n - 3]. */
		off = (size_t)(s - w);
		for (b = off; b > 0 && off - b < 10 && is_alpha(w[b - 1]); b--)
			;
		if (b < off)
			add(t, "proto:", w + b, off - b);
		url(t, s + 3, n - off - 3);
		return true;
	}
	if (n > 4 && lc(w[0]) == 'w' && lc(w[1]) == 'w' && lc(w[2]) == 'w' &&
	    w[3] == '.') {
		url(t, w, n);
		return true;
	}
	return false;
}

static bool
ascii_nieq_u8(const uint8_t *p, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lc(p[i]) != (uint8_t)s[i])
			return false;
	return true;
}

/* Octets trimmed off the ends of a body word: quotes and brackets say
 * nothing, and "end." must count as "end". '!', '?' and '$' stay. */
static inline bool
is_trim(uint8_t c)
{
	return c == '"' || c == '\'' || c == '(' || c == ')' || c == '[' ||
	    c == ']' || c == '<' || c == '>' || c == '{' || c == '}' ||
	    c == ',' || c == '.' || c == ';' || c == ':' || c == '*' ||
	    c == '`';
}

/* One white-space delimited word of body text. */
static void
word(struct tokenize *t, const uint8_t *w, size_t n)
{
	const uint8_t *at;
	size_t i, run = 0, caps = 0, letters = 0;
	char skip[16];

	for (i = 0; i < n; i++) {
		if (w[i] == '!') {
			t->excl++;
			if (++run == 3)
				t->excl_runs++;
		} else
			run = 0;
	}
	if (word_url(t, w, n))
		return;
	while (n > 0 && is_trim(w[0])) {
		w++;
		n--;
	}
	while (n > 0 && is_trim(w[n - 1]))
		n--;
	if (n < TOKENIZE_WORD_MIN)
		return;
	t->words++;
	for (i = 0; i < n; i++)
		if (is_alpha(w[i])) {
			letters++;
			if (w[i] <= 'Z')
				caps++;
		}
	if (letters >= 3 && caps == letters)
		t->caps_words++;
	at = memchr(w, '@', n);
	if (at != NULL && n < TOKENIZE_EMAIL_MAX) {
		/* UNSAFE: at is within w[0..n). */
		i = (size_t)(at - w) + 1;
		add_host(t, "email:", "email:dom:", w + i, n - i);
		return;
	}
	if (n <= TOKENIZE_WORD_MAX) {
		add(t, "", w, n);
		return;
	}
	/* "skip:c N": first octet and length in tens (100: longer). */
	(void)snprintf(skip, sizeof(skip), "skip:%c %zu", (char)lc(w[0]),
	    n >= 100 ? (size_t)100 : n / 10 * 10);
	add_str(t, skip, "");
}

static void
text_words(struct tokenize *t, const uint8_t *p, size_t len)
{
	size_t i = 0, s;

	while (i < len) {
		while (i < len && is_space(p[i]))
			i++;
		for (s = i; i < len && !is_space(p[i]); i++)
			;
		if (i > s)
			word(t, p + s, i - s);
	}
}

/* The tags of an HTML part: "tag:NAME" for each kind of tag, and the
 * hosts of href/src/action attributes as links. The text itself comes
 * from mime_html_to_text(). */
static void
html_tags(struct tokenize *t, const uint8_t *p, size_t len)
{
	static const char *const attrs[] = { "href", "src", "action" };
	size_t i = 0, n, a, k, e, v;
	uint8_t name[12];
	uint8_t q;

	while (i < len) {
		const uint8_t *lt = memchr(p + i, '<', len - i);

		if (lt == NULL)
			break;
		/* UNSAFE: lt is within p[i..len). */
		i = (size_t)(lt - p) + 1;
		for (n = 0; i < len && n < sizeof(name) && (is_alpha(p[i]) ||
		    (n > 0 && is_digit(p[i]))); i++)
			name[n++] = lc(p[i]);
		if (n == 0 || n == sizeof(name))
			continue;
		add(t, "tag:", name, n);
		/* Attributes up to '>' (quoted '>' allowed). */
		for (e = i, q = 0; e < len; e++) {
			if (q != 0) {
				if (p[e] == q)
					q = 0;
			} else if (p[e] == '"' || p[e] == '\'')
				q = p[e];
			else if (p[e] == '>')
				break;
		}
		for (a = i; a < e; a++) {
			if (!is_space(p[a - 1]))
				continue;
			for (k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++) {
				n = strlen(attrs[k]);
				if (e - a > n && ascii_nieq_u8(p + a, attrs[k],
				    n) && (p[a + n] == '=' || is_space(p[a + n])))
					break;
			}
			if (k == sizeof(attrs) / sizeof(attrs[0]))
				continue;
			for (v = a + n; v < e && (is_space(p[v]) ||
			    p[v] == '=' || p[v] == '"' || p[v] == '\''); v++)
				;
			for (n = v; n < e && !is_space(p[n]) && p[n] != '"' &&
			    p[n] != '\'' && p[n] != '>'; n++)
				;
			if (!word_url(t, p + v, n - v) && k == 0 && n - v > 7 &&
			    ascii_nieq_u8(p + v, "mailto:", 7)) {
				const uint8_t *h = memchr(p + v, '@', n - v);

				/* UNSAFE: h is within p[v..n). */
				if (h != NULL)
					add_host(t, "email:", "email:dom:",
					    h + 1, (size_t)(p + n - h - 1));
			}
			a = n;
		}
		i = e;
	}
}

/*
 * Headers
 */

/* Words of a header value (already decoded into p), each as prefix+word. */
static void
hdr_words(struct tokenize *t, const char *prefix, const uint8_t *p,
    size_t len)
{
	size_t i = 0, s, n;

	while (i < len) {
		while (i < len && !is_word(p[i]))
			i++;
		for (s = i; i < len && is_word(p[i]); i++)
			;
		n = i - s;
		while (n > 0 && (p[s + n - 1] == '.' || p[s + n - 1] == '-' ||
		    p[s + n - 1] == '\''))
			n--;
		if (n > 0)
			add(t, prefix, p + s, n);
	}
}

/* Decode (RFC 2047) a field value into t->hdr; false when nothing is
 * left (a value past TOKENIZE_HDR_MAX keeps what fitted). */
static bool
hdr_decode(struct tokenize *t, const struct mime_header *h)
{
	buf_reset(&t->hdr);
	(void)mime_header_decode(h->value, h->value_len, &t->hdr);
	return t->hdr.len > 0;
}

static void
hdr_subject(struct tokenize *t, const struct mime_header *h)
{
	const uint8_t *p, *cs;
	size_t i, s, letters = 0, upper = 0;

	/* The charset of encoded words ("=?koi8-r?") is a clue. */
	p = h->value;
	cs = memmem(p, h->value_len, "=?", 2);
	if (cs != NULL) {
		/* UNSAFE: cs is within the value. */
		s = (size_t)(cs - p) + 2;
		for (i = s; i < h->value_len && p[i] != '?'; i++)
			;
		add(t, "subject:charset:", p + s, i - s);
	}
	if (!hdr_decode(t, h)) {
		add_str(t, "special:", "subject_empty");
		return;
	}
	p = t->hdr.data;
	hdr_words(t, "subject:", p, t->hdr.len);
	/* Runs of punctuation: "!!!", "??", "$$$". */
	for (i = 0; i < t->hdr.len; ) {
		for (s = i; i < t->hdr.len && (p[i] == '!' || p[i] == '?' ||
		    p[i] == '$' || p[i] == '*'); i++)
			;
		if (i > s)
			add(t, "subject:punct:", p + s, i - s > 4 ? 4 : i - s);
		else
			i++;
	}
	for (i = 0; i < t->hdr.len; i++)
		if (is_alpha(p[i])) {
			letters++;
			if (p[i] <= 'Z')
				upper++;
		}
	if (letters >= 5 && upper == letters)
		add_str(t, "special:", "subject_allcaps");
	else if (letters >= 5 && upper * 2 > letters)
		add_str(t, "special:", "subject_mostlycaps");
}

/* From, To, Cc, Reply-To, Sender: "NAME:addr:LOCAL@HOST", "NAME:dom:",
 * display name words or "NAME:noname", and for To/Cc the count. */
static void
hdr_addrs(struct tokenize *t, const char *name, const struct mime_header *h)
{
	char pfx[TOKENIZE_NAME_MAX + 8], dpfx[TOKENIZE_NAME_MAX + 8];
	char npfx[TOKENIZE_NAME_MAX + 8];
	struct mime_addr *list, *a;
	size_t n = 0;
	uint8_t whole[TOKENIZE_TOKEN_MAX];
	size_t lm, lh;
	int r;

	r = snprintf(pfx, sizeof(pfx), "%s:addr:", name);
	if (r < 0 || (size_t)r >= sizeof(pfx))
		return;
	(void)snprintf(dpfx, sizeof(dpfx), "%s:dom:", name);
	(void)snprintf(npfx, sizeof(npfx), "%s:name:", name);
	list = mime_addr_parse(h->value, h->value_len);
	for (a = list; a != NULL && n < TOKENIZE_ADDRS_MAX; a = a->next) {
		if (a->mailbox == NULL || a->host == NULL)
			continue;	/* group start or end */
		n++;
		lm = strlen(a->mailbox);
		lh = strlen(a->host);
		if (lm + 1 + lh <= sizeof(whole)) {
			memcpy(whole, a->mailbox, lm);
			whole[lm] = '@';
			memcpy(whole + lm + 1, a->host, lh);
			add(t, pfx, whole, lm + 1 + lh);
		} else
			add_str(t, pfx, "long");
		add_host(t, dpfx, dpfx, (const uint8_t *)a->host, lh);
		if (a->name != NULL && a->name[0] != '\0') {
			buf_reset(&t->hdr);
			(void)mime_header_decode((const uint8_t *)a->name,
			    strlen(a->name), &t->hdr);
			hdr_words(t, npfx, t->hdr.data, t->hdr.len);
		} else
			add_str(t, npfx, "none");
	}
	mime_addr_free(&list);
	if (n == 0)
		add_str(t, pfx, "none");
	if (name[0] == 't' || name[0] == 'c') {
		(void)snprintf(pfx, sizeof(pfx), "%s:count:", name);
		add_bucket(t, pfx, n);
	}
}

/* Received: the addresses (and their /24 and /16) and host names the
 * relays wrote, and the words ("esmtp", "qmail", ...). */
static void
hdr_received(struct tokenize *t, const struct mime_header *h)
{
	const uint8_t *p;
	size_t i, s, k, dots, run, len, cut[3];

	if (!hdr_decode(t, h))
		return;
	p = t->hdr.data;
	len = t->hdr.len;
	for (i = 0; i < len; ) {
		while (i < len && !is_host(p[i]))
			i++;
		for (s = i; i < len && is_host(p[i]); i++)
			;
		if (i == s)
			continue;
		for (k = s, dots = 0, run = 0; k < i && (is_digit(p[k]) ||
		    p[k] == '.') && run <= 3; k++) {
			if (p[k] != '.') {
				run++;
				continue;
			}
			if (dots < 3)
				cut[dots] = k;
			dots++;
			run = 0;
		}
		if (k == i && dots == 3 && run <= 3) {
			add(t, "rcvd:ip:", p + s, i - s);
			add(t, "rcvd:ip:", p + s, cut[2] - s);
			add(t, "rcvd:ip:", p + s, cut[1] - s);
		} else if (memchr(p + s, '.', i - s) != NULL)
			add_host(t, "rcvd:host:", "rcvd:dom:", p + s, i - s);
		else if (i - s >= TOKENIZE_WORD_MIN && k < i)
			add(t, "rcvd:", p + s, i - s);	/* not a number */
	}
}

/* Message-ID: the host after '@' says which software wrote it. */
static void
hdr_msgid(struct tokenize *t, const struct mime_header *h)
{
	const uint8_t *at, *end;

	at = memchr(h->value, '@', h->value_len);
	if (at == NULL) {
		add_str(t, "mid:", "noat");
		return;
	}
	/* UNSAFE: at is within the value. */
	end = h->value + h->value_len;
	at++;
	if (end > at && end[-1] == '>')
		end--;
	add_host(t, "mid:host:", "mid:dom:", at, (size_t)(end - at));
}

/* Fields whose value words are tokenized with "NAME:". */
static const char *const word_fields[] = {
	"x-mailer", "user-agent", "x-mimeole", "x-newsreader", "organization",
	"list-id", "precedence", "x-priority", "x-msmail-priority",
	"importance", "mailing-list", "content-class", "x-originating-ip",
	"x-mailing-list", "x-list", "errors-to", "x-beenthere",
};

static void
headers(struct tokenize *t, const struct mime_part *root)
{
	char name[TOKENIZE_NAME_MAX], pfx[TOKENIZE_NAME_MAX + 2];
	const struct mime_header *h;
	size_t i, k, nrcvd = 0;

	for (i = 0; i < root->nheaders; i++) {
		h = &root->headers[i];
		if (h->name_len == 0 || h->name_len >= sizeof(name)) {
			add_str(t, "special:", "header_name_long");
			continue;
		}
		for (k = 0; k < h->name_len; k++)
			name[k] = (char)lc(h->name[k]);
		name[k] = '\0';
		/* Our own verdict must never become a clue. */
		if (strncmp(name, "x-spam-", 7) == 0)
			continue;
		/* The spelling of the name is a clue too ("Message-Id"). */
		add_raw_prefixed(t, "hdr:", h->name, h->name_len);
		if (strcmp(name, "subject") == 0)
			hdr_subject(t, h);
		else if (strcmp(name, "from") == 0 || strcmp(name, "to") == 0 ||
		    strcmp(name, "cc") == 0 || strcmp(name, "reply-to") == 0 ||
		    strcmp(name, "sender") == 0)
			hdr_addrs(t, name, h);
		else if (strcmp(name, "received") == 0) {
			if (nrcvd++ < TOKENIZE_RECEIVED_MAX)
				hdr_received(t, h);
		} else if (strcmp(name, "message-id") == 0)
			hdr_msgid(t, h);
		else {
			for (k = 0; k < sizeof(word_fields) /
			    sizeof(word_fields[0]); k++)
				if (strcmp(name, word_fields[k]) == 0)
					break;
			if (k == sizeof(word_fields) / sizeof(word_fields[0]))
				continue;
			(void)snprintf(pfx, sizeof(pfx), "%s:", name);
			if (hdr_decode(t, h))
				hdr_words(t, pfx, t->hdr.data, t->hdr.len);
		}
	}
	add_bucket(t, "special:received:", nrcvd);
	if (mime_header_find(root, "message-id") == NULL)
		add_str(t, "mid:", "none");
	if (mime_header_find(root, "date") == NULL)
		add_str(t, "special:", "no_date");
}

/*
 * Parts
 */

/* The next part in pre-order (no recursion: depth is input-driven). */
static const struct mime_part *
next_part(const struct mime_part *p)
{
	if (p->children != NULL)
		return p->children;
	while (p != NULL) {
		if (p->next != NULL)
			return p->next;
		p = p->parent;
	}
	return NULL;
}

/* "fname:ext:EXE" for an attachment name. */
static void
part_filename(struct tokenize *t, const struct mime_part *p)
{
	const struct mime_param *fn = mime_part_filename(p);
	const char *dot;

	if (fn == NULL || fn->value == NULL)
		return;
	dot = strrchr(fn->value, '.');
	if (dot != NULL && dot[1] != '\0' && strlen(dot + 1) <= 8)
		add_str(t, "fname:ext:", dot + 1);
	else
		add_str(t, "fname:", "noext");
}

/* The text of a text part, transfer decoding undone (octets kept in their
 * charset), at most what is left of TOKENIZE_TEXT_MAX. */
static void
part_text(struct tokenize *t, const struct mime_message *m,
    const struct mime_part *p)
{
	const uint8_t *body = m->data + p->body_off;
	size_t len = p->body_len;
	bool bad = false;

	if (len > t->text_left) {
		len = t->text_left;
		t->truncated = true;
	}
	t->text_left -= len;
	buf_reset(&t->raw);
	/* Decoding never grows the text: len fits in raw (TEXT_MAX). */
	if (p->cte == MIME_CTE_BASE64)
		(void)mime_base64_decode(body, len, &t->raw, &bad);
	else if (p->cte == MIME_CTE_QP)
		(void)mime_qp_decode(body, len, false, &t->raw, &bad);
	else {
		if (strcmp(p->subtype, "html") != 0) {
			text_words(t, body, len);
			t->has_plain = true;
			return;
		}
		(void)buf_append(&t->raw, body, len);
	}
	if (bad)
		t->bad_encoding = true;
	if (strcmp(p->subtype, "html") == 0) {
		t->has_html = true;
		html_tags(t, t->raw.data, t->raw.len);
		buf_reset(&t->text);
		(void)mime_html_to_text(t->raw.data, t->raw.len, &t->text);
		text_words(t, t->text.data, t->text.len);
	} else {
		t->has_plain = true;
		text_words(t, t->raw.data, t->raw.len);
	}
}

static void
parts(struct tokenize *t, const struct mime_message *m)
{
	const struct mime_param *cs;
	const struct mime_part *p;
	char ct[TOKENIZE_TOKEN_MAX];
	size_t n = 0;

	for (p = m->root; p != NULL; p = next_part(p)) {
		if (n++ == TOKENIZE_PARTS_MAX) {
			t->truncated = true;
			break;
		}
		(void)snprintf(ct, sizeof(ct), "%s/%s", p->type, p->subtype);
		add_str(t, "ct:", ct);
		cs = mime_param_find(p->params, p->nparams, "charset");
		if (cs != NULL && cs->value != NULL)
			add_str(t, "charset:", cs->value);
		if (p->cte_raw != NULL)
			add_str(t, "cte:", p->cte_raw);
		if (p->disposition != NULL)
			add_str(t, "cd:", p->disposition);
		part_filename(t, p);
		if ((p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE |
		    MIME_PART_OPAQUE)) != 0) {
			if ((p->flags & MIME_PART_NO_END) != 0)
				add_str(t, "special:", "multipart_no_end");
			continue;
		}
		if (strcmp(p->type, "text") == 0 &&
		    (p->disposition == NULL ||
		    strcmp(p->disposition, "attachment") != 0))
			part_text(t, m, p);
	}
	add_bucket(t, "special:parts:", n);
}

void
tokenize_message(struct tokenize *t, const uint8_t *msg, size_t len)
{
	struct mime_message *m;

	memset(t->slot, 0, sizeof(t->slot));
	t->ntok = 0;
	t->pool_len = 0;
	t->truncated = false;
	t->text_left = TOKENIZE_TEXT_MAX;
	t->words = t->caps_words = t->excl = t->excl_runs = 0;
	t->has_plain = t->has_html = t->bad_encoding = false;

	m = mime_parse(msg, len);
	headers(t, m->root);
	parts(t, m);
	mime_message_free(&m);

	if (t->has_html && !t->has_plain)
		add_str(t, "special:", "html_only");
	if (t->bad_encoding)
		add_str(t, "special:", "bad_encoding");
	if (t->excl_runs > 0)
		add_bucket(t, "special:excl_runs:", t->excl_runs);
	add_bucket(t, "special:excl:", t->excl);
	if (t->words >= 20)
		add_bucket(t, "special:caps_pct:",
		    t->caps_words * 100 / t->words);
	if (t->words == 0)
		add_str(t, "special:", "no_words");
}
