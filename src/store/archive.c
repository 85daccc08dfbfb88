/* archive: the mail archive store (layout, file format and hash chain in
 * archive.h): archive_put, the index line format and parser, verify,
 * search, mboxrd export and expiry. moatctl archive is the only reader;
 * the queue runner the only writer besides expiry. */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "mime.h"
#include "util.h"
#include "xalloc.h"

#define ARCHIVE_PATH_MAX	4096
#define ARCHIVE_ENV_MAX		(QUEUE_ENVELOPE_MAX + ARCHIVE_AUTHRES_MAX + \
				    1024)
#define ARCHIVE_READ_CHUNK	65536
#define ARCHIVE_HEADER_SCAN	(256 * 1024)	/* header octets parsed */
#define ARCHIVE_EXPIRED_NAME	"expired"
#define ARCHIVE_INDEX_NAME	"index"
#define ARCHIVE_TMP_DIR		".tmp"
#define ARCHIVE_TMP_STALE	(24 * 3600)	/* expiry removes older tmp */

static _Atomic unsigned archive_tmp_counter;

const char *
archive_direction_name(enum archive_direction d)
{
	return d == ARCHIVE_OUT ? "out" : "in";
}

int
archive_direction_parse(const char *s, enum archive_direction *d_r)
{
	if (strcmp(s, "in") == 0)
		*d_r = ARCHIVE_IN;
	else if (strcmp(s, "out") == 0)
		*d_r = ARCHIVE_OUT;
	else
		return -1;
	return 0;
}

static void
hex_encode(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[2 * n] = '\0';
}

/* SHA-256 of p as hex. OpenSSL only fails here on allocation failure. */
static int
sha256_hex(const void *p, size_t len, char hex[ARCHIVE_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		errno = ENOMEM;
		return -1;
	}
	hex_encode(md, n, hex);
	return 0;
}

void
archive_seed(const char *domain, enum archive_direction d, const char *day,
    char hex[ARCHIVE_HASH_HEX + 1])
{
	char s[ARCHIVE_PATH_MAX];
	int n = snprintf(s, sizeof(s), "%s %s %s %s", ARCHIVE_SEED, domain,
	    archive_direction_name(d), day);

	/* A domain is at most 255 octets: the seed always fits. */
	if (n < 0 || (size_t)n >= sizeof(s) || sha256_hex(s, (size_t)n,
	    hex) < 0)
		memset(hex, '0', ARCHIVE_HASH_HEX), hex[ARCHIVE_HASH_HEX] = '\0';
}

static bool
is_hex_hash(const char *s, size_t len)
{
	size_t i;

	if (len != ARCHIVE_HASH_HEX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
is_digits(const char *s, size_t len, size_t maxlen)
{
	size_t i;

	if (len == 0 || len > maxlen)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
copy_field(char *dst, size_t dstsize, const char *s, size_t len)
{
	if (len >= dstsize || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int
archive_index_parse(const char *line, size_t len, struct archive_entry *e,
    const char **error_r)
{
	const char *f[ARCHIVE_INDEX_FIELDS];
	size_t flen[ARCHIVE_INDEX_FIELDS], nf = 0, i, start = 0;
	uint64_t v;

	memset(e, 0, sizeof(*e));
	if (len >= ARCHIVE_LINE_MAX) {
		*error_r = "line too long";
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (nf == ARCHIVE_INDEX_FIELDS) {
			*error_r = "too many fields";
			return -1;
		}
		f[nf] = line + start;
		flen[nf++] = i - start;
		start = i + 1;
	}
	if (nf != ARCHIVE_INDEX_FIELDS) {
		*error_r = "too few fields";
		return -1;
	}
	if (flen[0] != QUEUE_ID_LEN || copy_field(e->id, sizeof(e->id), f[0],
	    flen[0]) < 0 || !queue_id_valid(e->id)) {
		*error_r = "bad queue id";
		return -1;
	}
	if (flen[1] == 2 && memcmp(f[1], "in", 2) == 0)
		e->direction = ARCHIVE_IN;
	else if (flen[1] == 3 && memcmp(f[1], "out", 3) == 0)
		e->direction = ARCHIVE_OUT;
	else {
		*error_r = "bad direction";
		return -1;
	}
	/* 18 digits keep both numbers far from overflow. */
	if (!is_digits(f[2], flen[2], 18) || !is_digits(f[3], flen[3], 18)) {
		*error_r = "bad time or size";
		return -1;
	}
	for (v = 0, i = 0; i < flen[2]; i++)
		v = v * 10 + (uint64_t)(f[2][i] - '0');
	e->time = (int64_t)v;
	for (v = 0, i = 0; i < flen[3]; i++)
		v = v * 10 + (uint64_t)(f[3][i] - '0');
	e->size = v;
	if (!is_hex_hash(f[4], flen[4]) || !is_hex_hash(f[5], flen[5])) {
		*error_r = "bad hash";
		return -1;
	}
	memcpy(e->file_hash, f[4], ARCHIVE_HASH_HEX);
	memcpy(e->prev_hash, f[5], ARCHIVE_HASH_HEX);
	if (copy_field(e->from, sizeof(e->from), f[6], flen[6]) < 0 ||
	    copy_field(e->to, sizeof(e->to), f[7], flen[7]) < 0 ||
	    copy_field(e->hfrom, sizeof(e->hfrom), f[8], flen[8]) < 0 ||
	    copy_field(e->hto, sizeof(e->hto), f[9], flen[9]) < 0 ||
	    copy_field(e->subject, sizeof(e->subject), f[10], flen[10]) < 0 ||
	    copy_field(e->snippet, sizeof(e->snippet), f[11], flen[11]) < 0) {
		*error_r = "field too long";
		return -1;
	}
	for (i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f) {
			*error_r = "control character";
			return -1;
		}
	return 0;
}

/* Append s to dst as an index field: at most max octets, control octets
 * as spaces, cut back to a UTF-8 sequence start. */
static int
put_field(struct buf *dst, const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1), i;

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	for (i = 0; i < len; i++) {
		char c = s[i];

		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = ' ';
		if (buf_append(dst, &c, 1) < 0)
			return -1;
	}
	return 0;
}

int
archive_index_format(const struct archive_entry *e, char *dst,
    size_t dstlen)
{
	struct buf b;
	int r = -1;

	buf_init(&b, ARCHIVE_LINE_MAX);
	if (buf_printf(&b, "%s\t%s\t%" PRId64 "\t%" PRIu64 "\t%s\t%s\t", e->id,
	    archive_direction_name(e->direction), e->time, e->size,
	    e->file_hash, e->prev_hash) < 0 ||
	    put_field(&b, e->from, ARCHIVE_ADDR_MAX) < 0 ||
	    buf_append(&b, "\t", 1) < 0 ||
	    put_field(&b, e->to, ARCHIVE_TO_MAX) < 0 ||
	    buf_append(&b, "\t", 1) < 0 ||
	    put_field(&b, e->hfrom, ARCHIVE_ADDR_MAX) < 0 ||
	    buf_append(&b, "\t", 1) < 0 ||
	    put_field(&b, e->hto, ARCHIVE_TO_MAX) < 0 ||
	    buf_append(&b, "\t", 1) < 0 ||
	    put_field(&b, e->subject, ARCHIVE_SUBJECT_MAX) < 0 ||
	    buf_append(&b, "\t", 1) < 0 ||
	    put_field(&b, e->snippet, ARCHIVE_SNIPPET_MAX) < 0 ||
	    buf_append(&b, "\n", 1) < 0)
		goto out;
	if (b.len >= dstlen)
		goto out;
	memcpy(dst, b.data, b.len);
	dst[b.len] = '\0';
	r = (int)b.len;
out:
	buf_deinit(&b);
	return r;
}

/* ------------------------------------------------------------------ */
/* Paths and small file helpers. */

static bool
safe_domain(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > ARCHIVE_DOMAIN_MAX || s[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || (unsigned char)s[i] <= 0x20 ||
		    s[i] == 0x7f || (s[i] >= 'A' && s[i] <= 'Z'))
			return false;
	return true;
}

static int
pathf(char *dst, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pathf(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static void
day_name(time_t t, char day[ARCHIVE_DAY_LEN + 1], char month[8])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* Years before 1000 or after 9999 would not sort: clamp. */
	if (tm.tm_year < 0)
		tm.tm_year = 0, tm.tm_mon = 0, tm.tm_mday = 1;
	if (tm.tm_year > 8099)
		tm.tm_year = 8099, tm.tm_mon = 11, tm.tm_mday = 31;
	if (strftime(day, ARCHIVE_DAY_LEN + 1, "%Y-%m-%d", &tm) == 0 ||
	    strftime(month, 8, "%Y-%m", &tm) == 0) {
		moat_strlcpy(day, "1900-01-01", ARCHIVE_DAY_LEN + 1);
		moat_strlcpy(month, "1900-01", 8);
	}
}

/* mkdir one level; a new directory is made durable in its parent. */
static int
mkdir_synced(const char *parent, const char *path)
{
	if (mkdir(path, 0700) == 0)
		return fsync_dir(parent);
	return errno == EEXIST ? 0 : -1;
}

static int
read_fd_all(int fd, size_t max, struct buf *out)
{
	uint8_t chunk[ARCHIVE_READ_CHUNK];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > max ||
		    buf_append(out, chunk, (size_t)n) < 0) {
			errno = EFBIG;
			return -1;
		}
	}
}

static int
read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, saved;

	if (fd < 0)
		return -1;
	r = read_fd_all(fd, max, out);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* SHA-256 of two buffers back to back: a stored file as written. */
static int
sha256_hex2(const void *a, size_t alen, const void *b, size_t blen,
    char hex[ARCHIVE_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = -1;

	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    EVP_DigestUpdate(ctx, b, blen) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
		hex_encode(md, mdlen, hex);
		r = 0;
	}
	EVP_MD_CTX_free(ctx);
	if (r < 0)
		errno = ENOMEM;
	return r;
}

/* SHA-256 of a file, streamed. */
static int
file_hash(int fd, char hex[ARCHIVE_HASH_HEX + 1])
{
	uint8_t chunk[ARCHIVE_READ_CHUNK];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t n;
	int r = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (EVP_DigestUpdate(ctx, chunk, (size_t)n) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	hex_encode(md, mdlen, hex);
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

static int
path_hash(const char *path, char hex[ARCHIVE_HASH_HEX + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, saved;

	if (fd < 0)
		return -1;
	r = file_hash(fd, hex);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* The offset of the message in a stored file (after the blank line that
 * ends the envelope), or -1. */
static long
stored_body_off(const uint8_t *p, size_t len)
{
	size_t lim = len < ARCHIVE_ENV_MAX ? len : ARCHIVE_ENV_MAX, i;

	if (len < sizeof(ARCHIVE_MAGIC) ||
	    memcmp(p, ARCHIVE_MAGIC "\n", sizeof(ARCHIVE_MAGIC)) != 0)
		return -1;
	for (i = sizeof(ARCHIVE_MAGIC) - 1; i + 1 < lim; i++)
		if (p[i] == '\n' && p[i + 1] == '\n')
			return (long)(i + 2);
	return -1;
}

/* ------------------------------------------------------------------ */
/* archive_put */

/* The end of the header block of msg (the whole of it when there is no
 * blank line), bounded by ARCHIVE_HEADER_SCAN. */
static size_t
header_len(const uint8_t *msg, size_t len, size_t *body_r)
{
	size_t lim = len < ARCHIVE_HEADER_SCAN ? len : ARCHIVE_HEADER_SCAN, i;

	for (i = 0; i < lim; i++) {
		if (msg[i] != '\n')
			continue;
		if (i + 1 < len && msg[i + 1] == '\n') {
			*body_r = i + 2;
			return i + 1;
		}
		if (i + 2 < len && msg[i + 1] == '\r' && msg[i + 2] == '\n') {
			*body_r = i + 3;
			return i + 1;
		}
	}
	*body_r = lim;
	return lim;
}

/* The decoded value of a header field into dst (max octets), "" when
 * absent. */
static void
header_value(const struct mime_part *root, const char *name, bool decode,
    char *dst, size_t dstlen)
{
	const struct mime_header *h = mime_header_find(root, name);
	struct buf b;
	size_t n;

	dst[0] = '\0';
	if (h == NULL)
		return;
	buf_init(&b, MIME_HEADER_MAX * 4);
	if ((decode ? mime_header_decode(h->value, h->value_len, &b) :
	    mime_header_unfold(h->value, h->value_len, &b)) == 0) {
		n = b.len < dstlen - 1 ? b.len : dstlen - 1;
		memcpy(dst, b.data, n);
		dst[n] = '\0';
	}
	buf_deinit(&b);
}

/* Control octets become spaces, and a UTF-8 sequence cut by a length
 * limit is dropped. */
static void
sanitize(char *s)
{
	size_t len = strlen(s), i, back;
	unsigned char c;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	for (back = 1; back <= 4 && back <= len; back++) {
		c = (unsigned char)s[len - back];
		if ((c & 0xc0) == 0x80)
			continue;
		if ((c >= 0xc0 && c < 0xe0 && back < 2) ||
		    (c >= 0xe0 && c < 0xf0 && back < 3) ||
		    (c >= 0xf0 && back < 4))
			s[len - back] = '\0';
		break;
	}
}

/* The index entry of a message: envelope and header fields. */
static void
make_entry(enum archive_direction direction,
    const struct queue_envelope *env, const uint8_t *msg, size_t len,
    time_t when, struct archive_entry *e)
{
	struct mime_message *m;
	size_t hlen, body, i, o, n;

	memset(e, 0, sizeof(*e));
	memcpy(e->id, env->id, sizeof(e->id));
	e->direction = direction;
	e->time = (int64_t)when;
	e->size = (uint64_t)len;
	moat_strlcpy(e->from, env->from != NULL ? env->from : "",
	    sizeof(e->from));
	for (i = 0, o = 0; i < env->nrcpts; i++) {
		if (i > 0 && o + 1 < sizeof(e->to))
			e->to[o++] = ',';
		e->to[o] = '\0';
		n = moat_strlcpy(e->to + o, env->rcpts[i], sizeof(e->to) - o);
		o += n < sizeof(e->to) - o ? n : sizeof(e->to) - o - 1;
	}
	hlen = header_len(msg, len, &body);
	m = mime_parse(msg, hlen);
	header_value(m->root, "From", true, e->hfrom, sizeof(e->hfrom));
	header_value(m->root, "To", true, e->hto, sizeof(e->hto));
	header_value(m->root, "Subject", true, e->subject,
	    sizeof(e->subject));
	mime_message_free(&m);
	/* Snippet: the first body octets, whitespace runs as one space. */
	for (o = 0; body < len && o < ARCHIVE_SNIPPET_MAX; body++) {
		char c = (char)msg[body];

		if ((unsigned char)c <= 0x20 || c == 0x7f) {
			if (o == 0 || e->snippet[o - 1] == ' ')
				continue;
			c = ' ';
		}
		e->snippet[o++] = c;
	}
	e->snippet[o] = '\0';
	sanitize(e->from);
	sanitize(e->to);
	sanitize(e->hfrom);
	sanitize(e->hto);
	sanitize(e->subject);
	sanitize(e->snippet);
}

static int
env_line(struct buf *b, const char *key, const char *v)
{
	size_t i, len;

	if (v == NULL)
		return 0;
	if (buf_printf(b, "%s ", key) < 0)
		return -1;
	/* Values are single lines: the queue envelope never holds LF, and
	 * the Authentication-Results value is unfolded. */
	len = strlen(v);
	for (i = 0; i < len; i++) {
		char c = (v[i] == '\r' || v[i] == '\n') ? ' ' : v[i];

		if (buf_append(b, &c, 1) < 0)
			return -1;
	}
	return buf_append(b, "\n", 1);
}

static int
format_stored_env(const char *domain, enum archive_direction direction,
    const struct queue_envelope *env, const uint8_t *msg, size_t len,
    time_t when, struct buf *b)
{
	const struct mime_header *h;
	struct mime_message *m;
	struct buf ar;
	const char *arv = NULL;
	size_t hlen, body, i;
	int r;

	if (buf_printf(b, "%s\nid %s\ndirection %s\ndomain %s\ntime %lld\n"
	    "queued %lld\n", ARCHIVE_MAGIC, env->id,
	    archive_direction_name(direction), domain, (long long)when,
	    (long long)env->time) < 0 ||
	    env_line(b, "from", env->from != NULL ? env->from : "") < 0)
		return -1;
	for (i = 0; i < env->nrcpts; i++)
		if (env_line(b, "rcpt", env->rcpts[i]) < 0)
			return -1;
	if (env_line(b, "ip", env->client_ip) < 0 ||
	    env_line(b, "helo", env->helo) < 0 ||
	    env_line(b, "service", env->service) < 0 ||
	    env_line(b, "session", env->session) < 0 ||
	    env_line(b, "auth", env->auth) < 0)
		return -1;
	/* Our own Authentication-Results is the topmost one. */
	hlen = header_len(msg, len, &body);
	m = mime_parse(msg, hlen);
	buf_init(&ar, ARCHIVE_AUTHRES_MAX);
	h = mime_header_find(m->root, "Authentication-Results");
	if (h != NULL) {
		size_t n = h->value_len < ARCHIVE_AUTHRES_MAX - 1 ?
		    h->value_len : ARCHIVE_AUTHRES_MAX - 1;

		/* A value cut at the limit is still worth keeping. */
		(void)mime_header_unfold(h->value, n, &ar);
		if (buf_cstr(&ar, &arv) < 0)
			arv = NULL;
	}
	r = env_line(b, "authres", arv);
	buf_deinit(&ar);
	mime_message_free(&m);
	if (r < 0)
		return -1;
	return buf_append(b, "\n", 1);
}

static int
write_tmp(const char *tmp, const struct buf *env, const uint8_t *msg,
    size_t len)
{
	int fd, saved;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, env->data, env->len) < 0 ||
	    write_all(fd, msg, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		saved = errno;
		(void)unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

/* With the index locked: drop a torn last line (a crash in the middle of
 * an append) and return the hash the next line chains from. */
static int
index_tail(int fd, const char *seed, char prev[ARCHIVE_HASH_HEX + 1])
{
	char tail[ARCHIVE_LINE_MAX + 1];
	struct stat sb;
	off_t from;
	ssize_t n;
	size_t len, end, start;

	if (fstat(fd, &sb) < 0)
		return -1;
	if (sb.st_size == 0) {
		memcpy(prev, seed, ARCHIVE_HASH_HEX + 1);
		return 0;
	}
	from = sb.st_size > (off_t)sizeof(tail) ? sb.st_size -
	    (off_t)sizeof(tail) : 0;
	n = pread(fd, tail, (size_t)(sb.st_size - from), from);
	if (n < 0)
		return -1;
	len = (size_t)n;
	end = len;
	while (end > 0 && tail[end - 1] != '\n')
		end--;
	if (end != len) {
		/* Torn append: its file, if any, is re-indexed on retry. */
		if (ftruncate(fd, from + (off_t)end) < 0 || fsync(fd) < 0)
			return -1;
		if (from + (off_t)end == 0) {
			memcpy(prev, seed, ARCHIVE_HASH_HEX + 1);
			return 0;
		}
	}
	if (end == 0) {
		errno = EILSEQ;	/* a line longer than any we write */
		return -1;
	}
	start = end - 1;
	while (start > 0 && tail[start - 1] != '\n')
		start--;
	if (start == 0 && from > 0) {
		errno = EILSEQ;
		return -1;
	}
	return sha256_hex(tail + start, end - 1 - start, prev);
}

/* With the index locked: is id in it? */
static int
index_has(int fd, const char *id, bool *found_r)
{
	int dfd;
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*found_r = false;
	if ((dfd = dup(fd)) < 0)
		return -1;
	if (lseek(dfd, 0, SEEK_SET) < 0 || (fp = fdopen(dfd, "r")) == NULL) {
		close(dfd);
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		if ((size_t)n > QUEUE_ID_LEN && line[QUEUE_ID_LEN] == '\t' &&
		    memcmp(line, id, QUEUE_ID_LEN) == 0) {
			*found_r = true;
			break;
		}
	}
	free(line);
	fclose(fp);
	return 0;
}

static int
index_append(int fd, const struct archive_entry *e)
{
	char line[ARCHIVE_LINE_MAX + 1];
	int n = archive_index_format(e, line, sizeof(line));

	if (n < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	/* One write on an O_APPEND descriptor under the lock. */
	if (write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0)
		return -1;
	return 0;
}

int
archive_put(const char *data_dir, const char *domain,
    enum archive_direction direction, const struct queue_envelope *env,
    const uint8_t *msg, size_t len, time_t when, const char **error_r)
{
	char base[ARCHIVE_PATH_MAX], dom[ARCHIVE_PATH_MAX];
	char dirp[ARCHIVE_PATH_MAX], monp[ARCHIVE_PATH_MAX];
	char dayp[ARCHIVE_PATH_MAX], tmpd[ARCHIVE_PATH_MAX];
	char tmp[ARCHIVE_PATH_MAX], dst[ARCHIVE_PATH_MAX];
	char idx[ARCHIVE_PATH_MAX];
	char day[ARCHIVE_DAY_LEN + 1], month[8];
	char seed[ARCHIVE_HASH_HEX + 1], written[ARCHIVE_HASH_HEX + 1];
	struct archive_entry e;
	struct stat sb;
	struct buf envb;
	bool found;
	int fd = -1, saved;

	if (!safe_domain(domain) || !queue_id_valid(env->id) ||
	    (direction != ARCHIVE_IN && direction != ARCHIVE_OUT)) {
		*error_r = "bad domain, queue id or direction";
		errno = EINVAL;
		return -1;
	}
	day_name(when, day, month);
	if (pathf(base, sizeof(base), "%s/archive", data_dir) < 0 ||
	    pathf(dom, sizeof(dom), "%s/%s", base, domain) < 0 ||
	    pathf(dirp, sizeof(dirp), "%s/%s", dom,
	    archive_direction_name(direction)) < 0 ||
	    pathf(monp, sizeof(monp), "%s/%s", dirp, month) < 0 ||
	    pathf(dayp, sizeof(dayp), "%s/%s", monp, day) < 0 ||
	    pathf(tmpd, sizeof(tmpd), "%s/%s", base, ARCHIVE_TMP_DIR) < 0 ||
	    pathf(tmp, sizeof(tmp), "%s/%s.%ld.%u", tmpd, env->id,
	    (long)getpid(), atomic_fetch_add(&archive_tmp_counter, 1)) < 0 ||
	    pathf(dst, sizeof(dst), "%s/%s", dayp, env->id) < 0 ||
	    pathf(idx, sizeof(idx), "%s/%s", dayp, ARCHIVE_INDEX_NAME) < 0) {
		*error_r = "path too long";
		return -1;
	}
	if (mkdir_synced(data_dir, base) < 0 ||
	    mkdir_synced(base, tmpd) < 0 || mkdir_synced(base, dom) < 0 ||
	    mkdir_synced(dom, dirp) < 0 || mkdir_synced(dirp, monp) < 0 ||
	    mkdir_synced(monp, dayp) < 0) {
		*error_r = "cannot create the archive directory";
		return -1;
	}
	/* Cheap retry check before any work; repeated under the lock. */
	fd = open(idx, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot open the index";
		return -1;
	}
	archive_seed(domain, direction, day, seed);
	buf_init(&envb, ARCHIVE_ENV_MAX);
	if (stat(dst, &sb) < 0) {
		/* Write and fsync outside the lock: appends stay short. */
		if (format_stored_env(domain, direction, env, msg, len, when,
		    &envb) < 0) {
			tmp[0] = '\0';
			*error_r = "envelope too large";
			errno = EOVERFLOW;
			goto fail;
		}
		if (write_tmp(tmp, &envb, msg, len) < 0) {
			*error_r = "cannot write the archive copy";
			tmp[0] = '\0';
			goto fail;
		}
		/* Hashed from memory: no read back under the lock. */
		if (sha256_hex2(envb.data, envb.len, msg, len, written) < 0) {
			*error_r = "cannot hash the archive copy";
			goto fail;
		}
	} else {
		tmp[0] = '\0';
	}
	make_entry(direction, env, msg, len, when, &e);
	if (flock(fd, LOCK_EX) < 0) {
		*error_r = "cannot lock the index";
		goto fail;
	}
	if (index_tail(fd, seed, e.prev_hash) < 0) {
		*error_r = "cannot read the index";
		goto fail;
	}
	if (stat(dst, &sb) == 0) {
		/* Stored before (a retry, or a crash before the append). */
		if (index_has(fd, env->id, &found) < 0) {
			*error_r = "cannot read the index";
			goto fail;
		}
		if (tmp[0] != '\0')
			(void)unlink(tmp);
		tmp[0] = '\0';
		if (found)
			goto done;
		if (fsync_dir(dayp) < 0) {
			*error_r = "cannot sync the archive day";
			goto fail;
		}
		/* The copy on disk is what the line must vouch for. */
		if (path_hash(dst, written) < 0) {
			*error_r = "cannot hash the archive copy";
			goto fail;
		}
	} else {
		if (tmp[0] == '\0') {
			/* Removed since the first stat: start over. */
			*error_r = "archive copy vanished";
			errno = EAGAIN;
			goto fail;
		}
		if (rename(tmp, dst) < 0) {
			*error_r = "cannot rename the archive copy";
			goto fail;
		}
		tmp[0] = '\0';
		if (fsync_dir(dayp) < 0) {
			*error_r = "cannot sync the archive day";
			goto fail;
		}
	}
	memcpy(e.file_hash, written, sizeof(e.file_hash));
	if (index_append(fd, &e) < 0) {
		*error_r = "cannot append to the index";
		goto fail;
	}
done:
	buf_deinit(&envb);
	if (close(fd) < 0) {
		*error_r = "cannot close the index";
		return -1;
	}
	return 0;
fail:
	saved = errno;
	if (tmp[0] != '\0')
		(void)unlink(tmp);
	buf_deinit(&envb);
	close(fd);
	errno = saved;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Walking the days. */

struct day_ref {
	const char		*domain;
	const char		*dom_path;
	enum archive_direction	 direction;
	const char		*day;
	const char		*path;
};

typedef int day_fn(void *ctx, const struct day_ref *d);
/* Something in the tree that is not where the layout puts it. */
typedef void odd_fn(void *ctx, const char *path);

struct walk {
	const char		*domain;	/* NULL: all */
	bool			 any_direction;
	enum archive_direction	 direction;
	char			 since[ARCHIVE_DAY_LEN + 1];	/* "": none */
	char			 until[ARCHIVE_DAY_LEN + 1];
	day_fn			*fn;
	odd_fn			*odd;
	void			*ctx;
};

static int
no_dots(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static bool
is_month(const char *s)
{
	return strlen(s) == 7 && is_digits(s, 4, 4) && s[4] == '-' &&
	    is_digits(s + 5, 2, 2);
}

static bool
is_day(const char *s, const char *month)
{
	return strlen(s) == ARCHIVE_DAY_LEN && strncmp(s, month, 7) == 0 &&
	    s[7] == '-' && is_digits(s + 8, 2, 2);
}

static void
free_names(struct dirent **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Sorted names in path; 0 entries when it does not exist. */
static int
list_dir(const char *path, struct dirent ***names_r)
{
	int n = scandir(path, names_r, no_dots, alphasort);

	if (n < 0 && errno == ENOENT) {
		*names_r = NULL;
		return 0;
	}
	return n;
}

static int
walk_month(struct walk *w, struct day_ref *ref, const char *mpath,
    const char *month)
{
	struct dirent **days;
	char path[ARCHIVE_PATH_MAX];
	int n, i, r = 0;

	if ((n = list_dir(mpath, &days)) < 0)
		return -1;
	for (i = 0; i < n && r == 0; i++) {
		const char *d = days[i]->d_name;

		if (pathf(path, sizeof(path), "%s/%s", mpath, d) < 0) {
			r = -1;
			break;
		}
		if (!is_day(d, month)) {
			if (w->odd != NULL)
				w->odd(w->ctx, path);
			continue;
		}
		if ((w->since[0] != '\0' && strcmp(d, w->since) < 0) ||
		    (w->until[0] != '\0' && strcmp(d, w->until) > 0))
			continue;
		ref->day = d;
		ref->path = path;
		r = w->fn(w->ctx, ref);
	}
	free_names(days, n);
	return r;
}

static int
walk_domain(struct walk *w, const char *base, const char *domain)
{
	struct dirent **months;
	struct day_ref ref;
	char dom[ARCHIVE_PATH_MAX], dpath[ARCHIVE_PATH_MAX];
	char mpath[ARCHIVE_PATH_MAX];
	int d, n, i, r = 0;

	if (pathf(dom, sizeof(dom), "%s/%s", base, domain) < 0)
		return -1;
	memset(&ref, 0, sizeof(ref));
	ref.domain = domain;
	ref.dom_path = dom;
	for (d = ARCHIVE_IN; d <= ARCHIVE_OUT && r == 0; d++) {
		if (!w->any_direction && (enum archive_direction)d !=
		    w->direction)
			continue;
		ref.direction = (enum archive_direction)d;
		if (pathf(dpath, sizeof(dpath), "%s/%s", dom,
		    archive_direction_name(ref.direction)) < 0)
			return -1;
		if ((n = list_dir(dpath, &months)) < 0)
			return -1;
		for (i = 0; i < n && r == 0; i++) {
			const char *m = months[i]->d_name;

			if (pathf(mpath, sizeof(mpath), "%s/%s", dpath,
			    m) < 0) {
				r = -1;
				break;
			}
			if (!is_month(m)) {
				if (w->odd != NULL)
					w->odd(w->ctx, mpath);
				continue;
			}
			if ((w->since[0] != '\0' && strncmp(m, w->since,
			    7) < 0) || (w->until[0] != '\0' &&
			    strncmp(m, w->until, 7) > 0))
				continue;
			r = walk_month(w, &ref, mpath, m);
		}
		free_names(months, n);
	}
	return r;
}

/* Call w->fn for each day in order; stops at its first non-zero return,
 * which is returned. */
static int
walk_days(const char *data_dir, struct walk *w)
{
	struct dirent **doms;
	char base[ARCHIVE_PATH_MAX];
	int n, i, r = 0;

	if (pathf(base, sizeof(base), "%s/archive", data_dir) < 0)
		return -1;
	if (w->domain != NULL) {
		if (!safe_domain(w->domain)) {
			errno = EINVAL;
			return -1;
		}
		return walk_domain(w, base, w->domain);
	}
	if ((n = list_dir(base, &doms)) < 0)
		return -1;
	for (i = 0; i < n && r == 0; i++)
		if (safe_domain(doms[i]->d_name))
			r = walk_domain(w, base, doms[i]->d_name);
	free_names(doms, n);
	return r;
}

/* Open a day's index with a lock; NULL (errno ENOENT) when absent. */
static FILE *
index_open(const char *day_path, int lock)
{
	char path[ARCHIVE_PATH_MAX];
	int fd, saved;
	FILE *fp;

	if (pathf(path, sizeof(path), "%s/%s", day_path,
	    ARCHIVE_INDEX_NAME) < 0)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (flock(fd, lock) < 0 || (fp = fdopen(fd, "r")) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	return fp;
}

/* Has domain's expired log a line for this day? */
static bool
day_expired(const char *dom_path, enum archive_direction d, const char *day)
{
	char path[ARCHIVE_PATH_MAX], key[32], *line = NULL;
	size_t cap = 0, klen;
	bool found = false;
	FILE *fp;

	if (pathf(path, sizeof(path), "%s/%s", dom_path,
	    ARCHIVE_EXPIRED_NAME) < 0 || (fp = fopen(path, "re")) == NULL)
		return false;
	klen = (size_t)snprintf(key, sizeof(key), "%s %s ",
	    archive_direction_name(d), day);
	while (getline(&line, &cap, fp) > 0)
		if (strncmp(line, key, klen) == 0) {
			found = true;
			break;
		}
	free(line);
	fclose(fp);
	return found;
}

/* ------------------------------------------------------------------ */
/* archive_verify */

struct verify {
	archive_problem_cb		*cb;
	void				*ctx;
	struct archive_verify_result	*res;
	int				 err;
};

static void
problem(struct verify *v, const char *path, const char *what)
{
	v->res->problems++;
	v->cb(v->ctx, path, what);
}

static void
verify_odd(void *ctx, const char *path)
{
	problem(ctx, path, "unexpected file");
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int
verify_day(void *ctx, const struct day_ref *d)
{
	struct verify *v = ctx;
	char seed[ARCHIVE_HASH_HEX + 1], prev[ARCHIVE_HASH_HEX + 1];
	char hex[ARCHIVE_HASH_HEX + 1], path[ARCHIVE_PATH_MAX];
	char what[128], *line = NULL;
	char (*ids)[QUEUE_ID_LEN + 1] = NULL;
	size_t nids = 0, cap = 0, lineno = 0, llen;
	struct archive_entry e;
	struct dirent **names;
	const char *err;
	ssize_t n;
	FILE *fp;
	int i, nn;

	archive_seed(d->domain, d->direction, d->day, seed);
	memcpy(prev, seed, sizeof(prev));
	fp = index_open(d->path, LOCK_SH);
	if (fp == NULL && errno != ENOENT)
		return -1;
	if (fp == NULL && day_expired(d->dom_path, d->direction, d->day))
		return 0;	/* what an interrupted expiry left */
	v->res->days++;
	if (pathf(path, sizeof(path), "%s/%s", d->path,
	    ARCHIVE_INDEX_NAME) < 0)
		goto fail;
	if (fp == NULL)
		problem(v, path, "missing index");
	while (fp != NULL && (n = getline(&line, &cap, fp)) > 0) {
		lineno++;
		llen = (size_t)n;
		if (line[llen - 1] != '\n') {
			snprintf(what, sizeof(what), "line %zu: torn line",
			    lineno);
			problem(v, path, what);
			break;
		}
		llen--;
		if (archive_index_parse(line, llen, &e, &err) < 0) {
			snprintf(what, sizeof(what), "line %zu: bad index "
			    "line: %s", lineno, err);
			problem(v, path, what);
		} else {
			v->res->messages++;
			if (strcmp(e.prev_hash, prev) != 0) {
				snprintf(what, sizeof(what), "line %zu: chain "
				    "broken", lineno);
				problem(v, path, what);
			}
			if (e.direction != d->direction) {
				snprintf(what, sizeof(what), "line %zu: wrong "
				    "direction", lineno);
				problem(v, path, what);
			}
			ids = xreallocarray(ids, nids + 1, sizeof(*ids));
			memcpy(ids[nids++], e.id, QUEUE_ID_LEN + 1);
			if (pathf(path, sizeof(path), "%s/%s", d->path,
			    e.id) < 0)
				goto fail;
			if (path_hash(path, hex) < 0) {
				problem(v, path, errno == ENOENT ?
				    "missing file" : strerror(errno));
			} else if (strcmp(hex, e.file_hash) != 0)
				problem(v, path, "altered file");
			if (pathf(path, sizeof(path), "%s/%s", d->path,
			    ARCHIVE_INDEX_NAME) < 0)
				goto fail;
		}
		/* Go on from the line as it is: one edit, one report. */
		if (sha256_hex(line, llen, prev) < 0)
			goto fail;
	}
	if (fp != NULL && ferror(fp))
		goto fail;
	if (fp != NULL)
		fclose(fp);
	fp = NULL;
	if (nids > 1)
		qsort(ids, nids, sizeof(*ids), cmp_id);
	for (i = 1; (size_t)i < nids; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0) {
			if (pathf(path, sizeof(path), "%s/%s", d->path,
			    ids[i]) < 0)
				goto fail;
			problem(v, path, "indexed twice");
		}
	if ((nn = list_dir(d->path, &names)) < 0)
		goto fail;
	for (i = 0; i < nn; i++) {
		const char *name = names[i]->d_name;

		if (strcmp(name, ARCHIVE_INDEX_NAME) == 0)
			continue;
		if (nids > 0 && strlen(name) == QUEUE_ID_LEN &&
		    bsearch(name, ids, nids, sizeof(*ids), cmp_id) != NULL)
			continue;
		if (pathf(path, sizeof(path), "%s/%s", d->path, name) == 0)
			problem(v, path, "not in index");
	}
	free_names(names, nn);
	free(ids);
	free(line);
	return 0;
fail:
	v->err = errno;
	if (fp != NULL)
		fclose(fp);
	free(ids);
	free(line);
	return -1;
}

int
archive_verify(const char *data_dir, time_t since, archive_problem_cb *cb,
    void *ctx, struct archive_verify_result *res, const char **error_r)
{
	struct verify v = { .cb = cb, .ctx = ctx, .res = res };
	struct walk w;
	char month[8];

	memset(res, 0, sizeof(*res));
	memset(&w, 0, sizeof(w));
	w.any_direction = true;
	w.fn = verify_day;
	w.odd = verify_odd;
	w.ctx = &v;
	if (since > 0)
		day_name(since, w.since, month);
	if (walk_days(data_dir, &w) != 0) {
		*error_r = strerror(v.err != 0 ? v.err : errno);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* archive_search */

/* Case-insensitive (ASCII) substring. */
static bool
ci_find(const uint8_t *hay, size_t len, const char *needle)
{
	size_t nlen = strlen(needle), i;

	if (nlen == 0)
		return true;
	for (i = 0; i + nlen <= len; i++)
		if (ascii_nieq((const char *)hay + i, needle, nlen))
			return true;
	return false;
}

static bool
ci_has(const char *s, const char *needle)
{
	return ci_find((const uint8_t *)s, strlen(s), needle);
}

static bool
text_part_match(const struct mime_message *m, const struct mime_part *p,
    const char *word, unsigned depth)
{
	const struct mime_part *c;
	struct buf b;
	bool hit = false;

	if (depth > MIME_DEPTH_MAX)
		return false;
	if (p->children != NULL) {
		for (c = p->children; c != NULL && !hit; c = c->next)
			hit = text_part_match(m, c, word, depth + 1);
		return hit;
	}
	buf_init(&b, ARCHIVE_TEXT_MAX);
	/* Past the limit the text so far is still searched. */
	if (mime_part_text(m, p, &b) != 1)
		hit = ci_find(b.data, b.len, word);
	buf_deinit(&b);
	return hit;
}

/* Does the stored message at path contain word in its text? */
static int
text_match(const char *path, const char *word, bool *hit_r)
{
	struct mime_message *m;
	struct buf data;
	long off;

	*hit_r = false;
	buf_init(&data, 0);
	if (read_file(path, ARCHIVE_FILE_MAX, &data) < 0) {
		buf_deinit(&data);
		return -1;
	}
	off = stored_body_off(data.data, data.len);
	if (off >= 0) {
		m = mime_parse(data.data + off, data.len - (size_t)off);
		*hit_r = text_part_match(m, m->root, word, 0);
		mime_message_free(&m);
	}
	buf_deinit(&data);
	return 0;
}

struct search {
	const struct archive_query	*q;
	archive_hit_cb			*cb;
	void				*ctx;
	long				 hits;
	int				 err;
};

static bool
entry_match(const struct archive_query *q, const struct archive_entry *e)
{
	if (q->since > 0 && e->time < (int64_t)q->since)
		return false;
	if (q->until > 0 && e->time > (int64_t)q->until)
		return false;
	if (q->from != NULL && !ci_has(e->from, q->from) &&
	    !ci_has(e->hfrom, q->from))
		return false;
	if (q->to != NULL && !ci_has(e->to, q->to) && !ci_has(e->hto, q->to))
		return false;
	if (q->subject != NULL && !ci_has(e->subject, q->subject))
		return false;
	return true;
}

static int
search_day(void *ctx, const struct day_ref *d)
{
	struct search *s = ctx;
	struct archive_entry e;
	char path[ARCHIVE_PATH_MAX], *line = NULL;
	const char *err;
	size_t cap = 0;
	ssize_t n;
	bool hit;
	FILE *fp;
	int r = 0;

	if ((fp = index_open(d->path, LOCK_SH)) == NULL)
		return errno == ENOENT ? 0 : (s->err = errno, -1);
	while (r == 0 && (n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n' ||
		    archive_index_parse(line, (size_t)n - 1, &e, &err) < 0 ||
		    !entry_match(s->q, &e))
			continue;	/* verify reports bad lines */
		if (pathf(path, sizeof(path), "%s/%s", d->path, e.id) < 0) {
			s->err = errno;
			r = -1;
			break;
		}
		if (s->q->text != NULL && !ci_has(e.subject, s->q->text)) {
			if (text_match(path, s->q->text, &hit) < 0 || !hit)
				continue;	/* a missing file: no text */
		}
		s->hits++;
		if (s->cb(s->ctx, d->domain, path, &e) != 0)
			r = 1;
	}
	if (r == 0 && ferror(fp)) {
		s->err = errno;
		r = -1;
	}
	free(line);
	fclose(fp);
	return r;
}

long
archive_search(const char *data_dir, const struct archive_query *q,
    archive_hit_cb *cb, void *ctx, const char **error_r)
{
	struct search s = { .q = q, .cb = cb, .ctx = ctx };
	struct walk w;
	char month[8];

	memset(&w, 0, sizeof(w));
	w.domain = q->domain;
	w.any_direction = q->any_direction;
	w.direction = q->direction;
	w.fn = search_day;
	w.ctx = &s;
	if (q->since > 0)
		day_name(q->since, w.since, month);
	if (q->until > 0)
		day_name(q->until, w.until, month);
	if (walk_days(data_dir, &w) < 0) {
		*error_r = strerror(s.err != 0 ? s.err : errno);
		return -1;
	}
	return s.hits;
}

/* ------------------------------------------------------------------ */
/* mboxrd export */

int
archive_mbox_write(FILE *out, const uint8_t *msg, size_t len)
{
	size_t pos = 0, end, llen, q;
	const uint8_t *nl;

	while (pos < len) {
		nl = memchr(msg + pos, '\n', len - pos);
		end = nl != NULL ? (size_t)(nl - msg) : len;
		llen = end - pos;
		if (llen > 0 && msg[pos + llen - 1] == '\r')
			llen--;
		/* mboxrd: ^>*From  gets one more '>' (RFC 4155 appendix). */
		for (q = pos; q < pos + llen && msg[q] == '>'; q++)
			;
		if (pos + llen - q >= 5 && memcmp(msg + q, "From ", 5) == 0 &&
		    fputc('>', out) == EOF)
			return -1;
		if (fwrite(msg + pos, 1, llen, out) != llen ||
		    fputc('\n', out) == EOF)
			return -1;
		pos = end + 1;
	}
	/* The blank line that separates messages. */
	return fputc('\n', out) == EOF ? -1 : 0;
}

struct export {
	FILE	*out;
	int	 err;
	long	 n;
};

static int
export_hit(void *ctx, const char *domain, const char *path,
    const struct archive_entry *e)
{
	struct export *x = ctx;
	struct buf data;
	struct tm tm;
	time_t t = (time_t)e->time;
	char date[64], from[ARCHIVE_ADDR_MAX + 1];
	long off;
	size_t i;

	(void)domain;
	buf_init(&data, 0);
	if (read_file(path, ARCHIVE_FILE_MAX, &data) < 0 ||
	    (off = stored_body_off(data.data, data.len)) < 0) {
		x->err = errno != 0 ? errno : EILSEQ;
		buf_deinit(&data);
		return -1;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		moat_strlcpy(date, "Thu Jan  1 00:00:00 1970", sizeof(date));
	moat_strlcpy(from, e->from[0] != '\0' ? e->from : "MAILER-DAEMON",
	    sizeof(from));
	/* The From line is split on spaces by readers. */
	for (i = 0; from[i] != '\0'; i++)
		if (from[i] == ' ')
			from[i] = '_';
	if (fprintf(x->out, "From %s %s\n", from, date) < 0 ||
	    archive_mbox_write(x->out, data.data + off,
	    data.len - (size_t)off) < 0) {
		x->err = errno != 0 ? errno : EIO;
		buf_deinit(&data);
		return -1;
	}
	buf_deinit(&data);
	x->n++;
	return 0;
}

long
archive_export_mbox(const char *data_dir, const struct archive_query *q,
    FILE *out, const char **error_r)
{
	struct export x = { .out = out };
	long r;

	errno = 0;
	r = archive_search(data_dir, q, export_hit, &x, error_r);
	if (x.err != 0) {
		*error_r = strerror(x.err);
		return -1;
	}
	return r < 0 ? -1 : x.n;
}

/* ------------------------------------------------------------------ */
/* archive_expire */

static int
log_expired(const char *dom_path, enum archive_direction d, const char *day,
    size_t lines, const char *last)
{
	char path[ARCHIVE_PATH_MAX], line[256];
	int fd, n, r;

	if (pathf(path, sizeof(path), "%s/%s", dom_path,
	    ARCHIVE_EXPIRED_NAME) < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%s %s %zu %s %lld\n",
	    archive_direction_name(d), day, lines, last,
	    (long long)time(NULL));
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	r = flock(fd, LOCK_EX) < 0 || write_all(fd, line, (size_t)n) < 0 ||
	    fsync(fd) < 0 ? -1 : 0;
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* The number of lines and the hash of the last one (the seed when none). */
static int
index_summary(FILE *fp, const char *seed, size_t *lines_r,
    char last[ARCHIVE_HASH_HEX + 1])
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*lines_r = 0;
	memcpy(last, seed, ARCHIVE_HASH_HEX + 1);
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		(*lines_r)++;
		if (sha256_hex(line, (size_t)n, last) < 0) {
			free(line);
			return -1;
		}
	}
	free(line);
	return ferror(fp) ? -1 : 0;
}

struct expire {
	char	 cutoff[ARCHIVE_DAY_LEN + 1];
	long	 days;
	int	 err;
};

static int
expire_day(void *ctx, const struct day_ref *d)
{
	struct expire *x = ctx;
	char seed[ARCHIVE_HASH_HEX + 1], last[ARCHIVE_HASH_HEX + 1];
	char path[ARCHIVE_PATH_MAX], parent[ARCHIVE_PATH_MAX];
	struct dirent **names;
	size_t lines = 0;
	FILE *fp;
	char *slash;
	int n, i;

	if (strcmp(d->day, x->cutoff) >= 0)
		return 0;
	archive_seed(d->domain, d->direction, d->day, seed);
	memcpy(last, seed, sizeof(last));
	/* Hold the lock: no append lands in a day being removed. */
	fp = index_open(d->path, LOCK_EX);
	if (fp == NULL && errno != ENOENT)
		goto fail;
	if (fp != NULL && index_summary(fp, seed, &lines, last) < 0)
		goto fail;
	/* Logged first: what a crash leaves is known to be expired. */
	if (log_expired(d->dom_path, d->direction, d->day, lines, last) < 0)
		goto fail;
	if (pathf(path, sizeof(path), "%s/%s", d->path,
	    ARCHIVE_INDEX_NAME) < 0 || (unlink(path) < 0 && errno != ENOENT))
		goto fail;
	if ((n = list_dir(d->path, &names)) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (pathf(path, sizeof(path), "%s/%s", d->path,
		    names[i]->d_name) < 0 ||
		    (unlink(path) < 0 && errno != ENOENT)) {
			free_names(names, n);
			goto fail;
		}
	}
	free_names(names, n);
	if (fp != NULL)
		fclose(fp);
	fp = NULL;
	if (rmdir(d->path) < 0 && errno != ENOENT)
		goto fail;
	moat_strlcpy(parent, d->path, sizeof(parent));
	if ((slash = strrchr(parent, '/')) != NULL)
		*slash = '\0';
	/* The month goes with its last day; ENOTEMPTY is the usual case. */
	if (rmdir(parent) < 0 && errno != ENOTEMPTY && errno != EEXIST)
		goto fail;
	x->days++;
	return 0;
fail:
	x->err = errno;
	if (fp != NULL)
		fclose(fp);
	return -1;
}

/* Temporary files of writes that crashed, older than a day. */
static void
expire_tmp(const char *data_dir)
{
	char dir[ARCHIVE_PATH_MAX], path[ARCHIVE_PATH_MAX];
	struct dirent **names;
	struct stat sb;
	time_t now = time(NULL);
	int n, i;

	if (pathf(dir, sizeof(dir), "%s/archive/%s", data_dir,
	    ARCHIVE_TMP_DIR) < 0 || (n = list_dir(dir, &names)) < 0)
		return;
	for (i = 0; i < n; i++)
		if (pathf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) == 0 && stat(path, &sb) == 0 &&
		    sb.st_mtime + ARCHIVE_TMP_STALE < now)
			(void)unlink(path);	/* best effort */
	free_names(names, n);
}

long
archive_expire(const char *data_dir, const char *domain, time_t older_than,
    const char **error_r)
{
	struct expire x;
	struct walk w;
	char month[8];

	if (!safe_domain(domain)) {
		*error_r = "bad domain";
		return -1;
	}
	memset(&x, 0, sizeof(x));
	day_name(older_than, x.cutoff, month);
	memset(&w, 0, sizeof(w));
	w.domain = domain;
	w.any_direction = true;
	w.fn = expire_day;
	w.ctx = &x;
	if (walk_days(data_dir, &w) != 0) {
		*error_r = strerror(x.err != 0 ? x.err : errno);
		return -1;
	}
	expire_tmp(data_dir);
	return x.days;
}
