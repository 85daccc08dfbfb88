/* mailbox: the per-account mailbox index (see mailbox.h).
 *
 * Schema (PRAGMA user_version = MAILBOX_SCHEMA):
 *   folders(name PRIMARY KEY, uidvalidity, uidnext, highestmodseq)
 *   messages(folder, uid, base, file, size, idate, flags, modseq,
 *            keywords, envelope, body, bodystructure,
 *            PRIMARY KEY (folder, uid), UNIQUE (folder, base))
 *            keywords: IMAP keywords separated by single spaces (kept in
 *            the index only: a rebuilt index loses them).
 *            envelope, body, bodystructure: the IMAP ENVELOPE, BODY and
 *            BODYSTRUCTURE strings (Maildir files never change). A sync
 *            fills envelope from the header it reads anyway; the others
 *            (and an envelope it could not make) stay NULL until the
 *            first FETCH that parses the file stores them.
 *   expunged(folder, uid, modseq, PRIMARY KEY (folder, uid)): the MODSEQ
 *            of each expunge, for QRESYNC VANISHED (RFC 7162 3.2.10).
 *   meta(key PRIMARY KEY, value): "last_uidvalidity", so a rebuilt folder
 *            gets a larger UIDVALIDITY than any before it in this file.
 * Versions 1 (no keywords, no expunged table) and 2 (no envelope, body,
 * bodystructure) are upgraded in place; a
 * database with another user_version is dropped and rebuilt; a corrupt
 * one is deleted and rebuilt. */
#include "mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "mime.h"
#include "util.h"
#include "xalloc.h"

#define MAILBOX_SCHEMA 3
#define MAILBOX_PATH_MAX 4096
#define MAILBOX_READ_CHUNK 65536
/* A header longer than this gets its ENVELOPE at the first FETCH. */
#define MAILBOX_HEADER_MAX (256 * 1024)
#define MAILBOX_ENVELOPE_MAX (1024 * 1024)
#define MAILBOX_OPEN_TRIES 500		/* x MAILBOX_OPEN_WAIT_MS */
#define MAILBOX_OPEN_WAIT_MS 10

struct mailbox {
	sqlite3	*db;
	char	 root[MAILBOX_PATH_MAX];	/* the Maildir */
	char	 dir[MAILBOX_PATH_MAX];		/* this folder's directory */
	char	 folder[MAILBOX_FOLDER_MAX + 1];
};

/* A file found in cur/ during a sync. */
struct entry {
	char	*name;
	size_t	 baselen;
	int64_t	 t;		/* time in the name, or -1 */
	unsigned flags;
	bool	 matched;	/* has an index row */
};

/* An index row during a sync. */
struct row {
	uint32_t uid;
	char	*base;
	char	*file;
	bool	 matched;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS folders (name TEXT PRIMARY KEY,"
	" uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS messages (folder TEXT NOT NULL,"
	" uid INTEGER NOT NULL, base TEXT NOT NULL, file TEXT NOT NULL,"
	" size INTEGER NOT NULL, idate INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" keywords TEXT NOT NULL DEFAULT '',"
	" envelope TEXT, body TEXT, bodystructure TEXT,"
	" PRIMARY KEY (folder, uid), UNIQUE (folder, base));"
	"CREATE TABLE IF NOT EXISTS expunged (folder TEXT NOT NULL,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY (folder, uid));";

/* From version 1: keywords and the expunged table. */
static const char upgrade1_sql[] =
	"ALTER TABLE messages ADD COLUMN keywords TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE IF NOT EXISTS expunged (folder TEXT NOT NULL,"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY (folder, uid));";

/* From version 2: the cached FETCH strings. */
static const char upgrade2_sql[] =
	"ALTER TABLE messages ADD COLUMN envelope TEXT;"
	"ALTER TABLE messages ADD COLUMN body TEXT;"
	"ALTER TABLE messages ADD COLUMN bodystructure TEXT;";

static const char drop_sql[] =
	"DROP TABLE IF EXISTS messages; DROP TABLE IF EXISTS folders;"
	"DROP TABLE IF EXISTS expunged;"
	"DROP TABLE IF EXISTS meta;";

/* ---- small helpers ----------------------------------------------------- */

static int
db_exec(struct mailbox *mb, const char *sql, const char **error_r)
{
	if (sqlite3_exec(mb->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
db_prep(struct mailbox *mb, const char *sql, const char **error_r)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(mb->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*error_r = sqlite3_errmsg(mb->db);
		return NULL;
	}
	return st;
}

static void
db_rollback(struct mailbox *mb)
{
	(void)sqlite3_exec(mb->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
path_join(char *dst, size_t dstlen, const char *a, const char *b,
    const char *c)
{
	int n = snprintf(dst, dstlen, "%s/%s%s%s", a, b, c ? "/" : "",
	    c ? c : "");

	if (n < 0 || (size_t)n >= dstlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A name we index: no '/', not hidden, bounded. */
static bool
valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= MAILBOX_NAME_MAX && name[0] != '.' &&
	    strchr(name, '/') == NULL;
}

void
mailbox_parse_name(const char *name, size_t *baselen_r, unsigned *flags_r)
{
	const char *info = strstr(name, ":2,");
	unsigned f = 0;
	const char *p;

	if (info == NULL) {
		*baselen_r = strlen(name);
		*flags_r = 0;
		return;
	}
	*baselen_r = (size_t)(info - name);
	for (p = info + 3; *p != '\0'; p++) {
		switch (*p) {
		case 'S': f |= MAILBOX_F_SEEN; break;
		case 'R': f |= MAILBOX_F_ANSWERED; break;
		case 'F': f |= MAILBOX_F_FLAGGED; break;
		case 'T': f |= MAILBOX_F_DELETED; break;
		case 'D': f |= MAILBOX_F_DRAFT; break;
		default: break;		/* P and lower-case keywords */
		}
	}
	*flags_r = f;
}

int64_t
mailbox_name_time(const char *name)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; name[i] >= '0' && name[i] <= '9'; i++) {
		if (i >= 12)
			return -1;
		t = t * 10 + (name[i] - '0');
	}
	if (i == 0 || name[i] != '.')
		return -1;
	return t;
}

/* base + ":2," + flag letters in ASCII order (the Maildir spec). */
static int
make_name(char *dst, size_t dstlen, const char *base, size_t baselen,
    unsigned flags)
{
	char letters[8];
	size_t o = 0;
	int n;

	if (flags & MAILBOX_F_DRAFT)
		letters[o++] = 'D';
	if (flags & MAILBOX_F_FLAGGED)
		letters[o++] = 'F';
	if (flags & MAILBOX_F_ANSWERED)
		letters[o++] = 'R';
	if (flags & MAILBOX_F_SEEN)
		letters[o++] = 'S';
	if (flags & MAILBOX_F_DELETED)
		letters[o++] = 'T';
	letters[o] = '\0';
	n = snprintf(dst, dstlen, "%.*s:2,%s", (int)baselen, base, letters);
	return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}

/* ---- open -------------------------------------------------------------- */

static void
unlink_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[MAILBOX_PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
}

static int
db_setup(struct mailbox *mb, const char **error_r)
{
	sqlite3_stmt *st;
	int ver = -1;

	if (sqlite3_busy_timeout(mb->db, MAILBOX_BUSY_MS) != SQLITE_OK ||
	    db_exec(mb, "PRAGMA journal_mode=WAL", error_r) < 0 ||
	    db_exec(mb, "PRAGMA synchronous=NORMAL", error_r) < 0)
		return -1;
	if ((st = db_prep(mb, "PRAGMA user_version", error_r)) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (ver < 0) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	if (ver == MAILBOX_SCHEMA)
		return 0;
	/* A new file, or one from another schema: (re)build it. */
	if (db_exec(mb, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (ver == 1 || ver == 2) {
		if ((ver == 1 && db_exec(mb, upgrade1_sql, error_r) < 0) ||
		    db_exec(mb, upgrade2_sql, error_r) < 0 ||
		    db_exec(mb, "PRAGMA user_version = 3", error_r) < 0 ||
		    db_exec(mb, "COMMIT", error_r) < 0) {
			db_rollback(mb);
			return -1;
		}
		return 0;
	}
	if ((ver != 0 && db_exec(mb, drop_sql, error_r) < 0) ||
	    db_exec(mb, schema_sql, error_r) < 0 ||
	    db_exec(mb, "PRAGMA user_version = 3", error_r) < 0 ||
	    db_exec(mb, "COMMIT", error_r) < 0) {
		db_rollback(mb);
		return -1;
	}
	return 0;
}

static bool
valid_folder(const char *folder)
{
	size_t len = strlen(folder);

	if (len == 0 || len > MAILBOX_FOLDER_MAX || folder[0] == '.' ||
	    strchr(folder, '/') != NULL || strstr(folder, "..") != NULL)
		return false;
	return true;
}

int
mailbox_open(const char *maildir, const char *folder,
    struct mailbox **mb_r, const char **error_r)
{
	struct mailbox *mb;
	char path[MAILBOX_PATH_MAX];
	int attempt, rc, n;
	bool rebuilt;

	*mb_r = NULL;
	if (!valid_folder(folder)) {
		*error_r = "bad folder name";
		return -1;
	}
	mb = xcalloc(1, sizeof(*mb));
	if (moat_strlcpy(mb->root, maildir, sizeof(mb->root)) >=
	    sizeof(mb->root) ||
	    moat_strlcpy(mb->folder, folder, sizeof(mb->folder)) >=
	    sizeof(mb->folder) ||
	    path_join(path, sizeof(path), maildir, MAILBOX_INDEX_NAME,
	    NULL) < 0) {
		free(mb);
		*error_r = "path too long";
		return -1;
	}
	if (strcmp(folder, "INBOX") == 0)
		n = snprintf(mb->dir, sizeof(mb->dir), "%s", maildir);
	else
		n = snprintf(mb->dir, sizeof(mb->dir), "%s/.%s", maildir,
		    folder);
	if (n < 0 || (size_t)n >= sizeof(mb->dir)) {
		free(mb);
		*error_r = "path too long";
		return -1;
	}
	for (attempt = 0, rebuilt = false; attempt < MAILBOX_OPEN_TRIES;
	    attempt++) {
		rc = sqlite3_open_v2(path, &mb->db, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
		if (rc == SQLITE_OK && db_setup(mb, error_r) == 0) {
			*mb_r = mb;
			return 0;
		}
		rc = mb->db ? sqlite3_errcode(mb->db) : rc;
		sqlite3_close(mb->db);
		mb->db = NULL;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			/* Switching a new file to WAL while another process
			 * does the same fails at once, busy handler or not:
			 * wait a little and try again. */
			struct timespec ts = { 0, MAILBOX_OPEN_WAIT_MS *
			    1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		if ((rc != SQLITE_CORRUPT && rc != SQLITE_NOTADB) || rebuilt) {
			/* sqlite3_errmsg() dies with the handle. */
			free(mb);
			*error_r = "cannot open the mailbox index";
			return -1;
		}
		/* Corrupt: the index is a cache of the Maildir; rebuild. */
		unlink_db(path);
		rebuilt = true;
	}
	free(mb);
	*error_r = "mailbox index busy";
	return -1;
}

void
mailbox_close(struct mailbox **mb)
{
	if (mb == NULL || *mb == NULL)
		return;
	sqlite3_close((*mb)->db);
	free(*mb);
	*mb = NULL;
}

/* ---- directory scans --------------------------------------------------- */

/* Move every new/ file to cur/ with an empty info part. */
static int
move_new(struct mailbox *mb, const char **error_r)
{
	char dnew[MAILBOX_PATH_MAX], from[MAILBOX_PATH_MAX];
	char to[MAILBOX_PATH_MAX], name[MAILBOX_NAME_MAX + 8];
	struct dirent *de;
	DIR *d;
	size_t count = 0;

	if (path_join(dnew, sizeof(dnew), mb->dir, "new", NULL) < 0 ||
	    (d = opendir(dnew)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot read new/";
		return -1;
	}
	while ((de = readdir(d)) != NULL && count++ < MAILBOX_FILES_MAX) {
		if (!valid_name(de->d_name))
			continue;
		if (strchr(de->d_name, ':') != NULL)
			snprintf(name, sizeof(name), "%s", de->d_name);
		else
			snprintf(name, sizeof(name), "%s:2,", de->d_name);
		if (path_join(from, sizeof(from), mb->dir, "new",
		    de->d_name) < 0 ||
		    path_join(to, sizeof(to), mb->dir, "cur", name) < 0)
			continue;
		/* ENOENT: another process moved it first. */
		if (rename(from, to) < 0 && errno != ENOENT) {
			closedir(d);
			*error_r = "cannot move a message from new/ to cur/";
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int
entry_cmp_base(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->baselen < y->baselen ? x->baselen : y->baselen;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	return x->baselen < y->baselen ? -1 : x->baselen > y->baselen;
}

static int
entry_cmp_order(const void *a, const void *b)
{
	const struct entry *const *x = a, *const *y = b;

	if ((*x)->t != (*y)->t)
		return (*x)->t < (*y)->t ? -1 : 1;
	return strcmp((*x)->name, (*y)->name);
}

static int
row_cmp_base(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return strcmp(x->base, y->base);
}

static void
entries_free(struct entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static void
rows_free(struct row *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].base);
		free(r[i].file);
	}
	free(r);
}

/* Read cur/ into a sorted (by base) array; duplicates of a base (the
 * same message under two flag suffixes) keep the first. */
static int
scan_cur(struct mailbox *mb, struct entry **e_r, size_t *n_r,
    const char **error_r)
{
	char dcur[MAILBOX_PATH_MAX];
	struct entry *e = NULL;
	size_t n = 0, cap = 0, i, o;
	struct dirent *de;
	DIR *d;

	*e_r = NULL;
	*n_r = 0;
	if (path_join(dcur, sizeof(dcur), mb->dir, "cur", NULL) < 0 ||
	    (d = opendir(dcur)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot read cur/";
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!valid_name(de->d_name))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (n == MAILBOX_FILES_MAX) {
			closedir(d);
			entries_free(e, n);
			*error_r = "too many files in the mailbox";
			return -1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			e = xreallocarray(e, cap, sizeof(*e));
		}
		e[n].name = xstrdup(de->d_name);
		mailbox_parse_name(e[n].name, &e[n].baselen, &e[n].flags);
		e[n].t = mailbox_name_time(e[n].name);
		e[n].matched = false;
		if (e[n].baselen == 0) {
			free(e[n].name);
			continue;
		}
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(e, n, sizeof(*e), entry_cmp_base);
	for (i = 0, o = 0; i < n; i++) {
		if (o > 0 && entry_cmp_base(&e[o - 1], &e[i]) == 0) {
			free(e[i].name);
			continue;
		}
		e[o++] = e[i];
	}
	*e_r = e;
	*n_r = o;
	return 0;
}

/* The IMAP ENVELOPE of a message header (raw octets up to and with the
 * empty line), as FETCH makes it from the whole file with CRLF line
 * ends; NULL when it cannot be stored as text. */
static char *
header_envelope(const struct buf *hdr)
{
	struct mime_message *mm;
	struct buf crlf, env;
	char *t = NULL;
	size_t i, start = 0;

	buf_init(&crlf, 0);
	buf_init(&env, MAILBOX_ENVELOPE_MAX);
	for (i = 0; i < hdr->len; i++) {
		if (hdr->data[i] != '\n' || (i > 0 && hdr->data[i - 1] == '\r'))
			continue;
		if (buf_append(&crlf, hdr->data + start, i - start) < 0 ||
		    buf_append(&crlf, "\r\n", 2) < 0)
			goto out;
		start = i + 1;
	}
	if (buf_append(&crlf, hdr->data + start, hdr->len - start) < 0)
		goto out;
	mm = mime_parse(crlf.data != NULL ? crlf.data : (const uint8_t *)"",
	    crlf.len);
	if (mime_envelope(mm, mm->root, &env) == 0 && env.len > 0 &&
	    memchr(env.data, '\0', env.len) == NULL) {
		t = xmalloc(env.len + 1);
		memcpy(t, env.data, env.len);
		t[env.len] = '\0';
	}
	mime_message_free(&mm);
out:
	buf_deinit(&crlf);
	buf_deinit(&env);
	return t;
}

/* RFC822.SIZE of a file: its octets with every bare LF counted as CRLF,
 * and its modification time; its header (through the empty line, or the
 * whole file without one) into hdr, which is left empty when the header
 * is longer than MAILBOX_HEADER_MAX. Returns 0, 1 when the file vanished,
 * -1. */
static int
measure(const char *path, uint64_t *size_r, time_t *mtime_r,
    struct buf *hdr)
{
	uint8_t buf[MAILBOX_READ_CHUNK];
	uint64_t size = 0;
	bool prev_cr = false, in_hdr = true, bol = true, hdr_long = false;
	const uint8_t *q;
	struct stat sb;
	ssize_t r;
	int fd;

	buf_reset(hdr);

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t i;

		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (in_hdr) {
			/* The header ends at an empty line (LF or CRLF). */
			for (i = 0; i < r && in_hdr; i++) {
				if (buf[i] == '\n') {
					if (bol)
						in_hdr = false;
					bol = true;
				} else if (buf[i] != '\r' || !bol) {
					bol = false;
				}
			}
			if (buf_append(hdr, buf, (size_t)i) < 0) {
				in_hdr = false;
				hdr_long = true;
			}
		}
		for (q = buf; (q = memchr(q, '\n', (size_t)r -
		    (size_t)(q - buf))) != NULL; q++)
			if (q == buf ? !prev_cr : q[-1] != '\r')
				size++;
		prev_cr = buf[r - 1] == '\r';
		size += (uint64_t)r;
	}
	close(fd);
	if (r < 0)
		return -1;
	if (hdr_long)
		buf_reset(hdr);
	*size_r = size;
	*mtime_r = sb.st_mtime;
	return 0;
}

/* ---- sync -------------------------------------------------------------- */

struct folder_row {
	bool	 exists;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t hms;
};

static int
folder_get(struct mailbox *mb, struct folder_row *f, const char **error_r)
{
	sqlite3_stmt *st = db_prep(mb, "SELECT uidvalidity, uidnext, "
	    "highestmodseq FROM folders WHERE name = ?", error_r);
	int rc;

	memset(f, 0, sizeof(*f));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		f->exists = true;
		f->uidvalidity = (uint32_t)sqlite3_column_int64(st, 0);
		f->uidnext = (uint32_t)sqlite3_column_int64(st, 1);
		f->hms = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	return 0;
}

/* A UIDVALIDITY larger than any this file has handed out (RFC 3501
 * 2.3.1.1: it must grow when UIDs are reassigned). */
static int
new_uidvalidity(struct mailbox *mb, uint32_t old, uint32_t *v_r,
    const char **error_r)
{
	sqlite3_stmt *st;
	uint64_t last = old, now = (uint64_t)time(NULL), v;
	int rc;

	st = db_prep(mb, "SELECT value FROM meta WHERE key = "
	    "'last_uidvalidity'", error_r);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (uint64_t)sqlite3_column_int64(st, 0) > last)
		last = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	v = now > last ? now : last + 1;
	if (v > UINT32_MAX || v == 0)
		v = 1;
	st = db_prep(mb, "INSERT OR REPLACE INTO meta (key, value) VALUES "
	    "('last_uidvalidity', ?)", error_r);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	*v_r = (uint32_t)v;
	return 0;
}

static int
load_rows(struct mailbox *mb, struct row **r_r, size_t *n_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_prep(mb, "SELECT uid, base, file FROM messages "
	    "WHERE folder = ?", error_r);
	struct row *r = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*r_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *b = (const char *)sqlite3_column_text(st, 1);
		const char *f = (const char *)sqlite3_column_text(st, 2);

		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			r = xreallocarray(r, cap, sizeof(*r));
		}
		r[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		r[n].base = xstrdup(b ? b : "");
		r[n].file = xstrdup(f ? f : "");
		r[n].matched = false;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rows_free(r, n);
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	if (n > 1)
		qsort(r, n, sizeof(*r), row_cmp_base);
	*r_r = r;
	*n_r = n;
	return 0;
}

static int
step_done(struct mailbox *mb, sqlite3_stmt *st, const char **error_r)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	return 0;
}

/* Inside the transaction: the merge of directory and index. */
static int
sync_locked(struct mailbox *mb, const char **error_r)
{
	struct folder_row f;
	struct entry *e = NULL, **fresh = NULL;
	struct row *r = NULL;
	size_t ne = 0, nr = 0, nfresh = 0, i, j;
	sqlite3_stmt *ins = NULL, *upd = NULL, *del = NULL, *fol = NULL;
	sqlite3_stmt *gone = NULL;
	struct buf hdr;
	bool rebuild = false, changed = false;
	int ret = -1;

	buf_init(&hdr, MAILBOX_HEADER_MAX);
	if (move_new(mb, error_r) < 0 || scan_cur(mb, &e, &ne, error_r) < 0 ||
	    folder_get(mb, &f, error_r) < 0 ||
	    load_rows(mb, &r, &nr, error_r) < 0)
		goto out;
	/* Consistency: every UID below UIDNEXT, none twice (sorted by base,
	 * so check UIDs with a pass over a copy would cost memory: the
	 * PRIMARY KEY already forbids duplicates). */
	if (!f.exists || f.uidvalidity == 0 || f.uidnext == 0)
		rebuild = true;
	for (i = 0; i < nr && !rebuild; i++)
		if (r[i].uid == 0 || r[i].uid >= f.uidnext ||
		    r[i].base[0] == '\0')
			rebuild = true;
	if (rebuild) {
		uint32_t v;

		if (new_uidvalidity(mb, f.uidvalidity, &v, error_r) < 0)
			goto out;
		if ((del = db_prep(mb, "DELETE FROM messages WHERE folder = ?",
		    error_r)) == NULL)
			goto out;
		sqlite3_bind_text(del, 1, mb->folder, -1, SQLITE_STATIC);
		if (step_done(mb, del, error_r) < 0)
			goto out;
		sqlite3_finalize(del);
		del = NULL;
		if ((del = db_prep(mb, "DELETE FROM expunged WHERE folder = ?",
		    error_r)) == NULL)
			goto out;
		sqlite3_bind_text(del, 1, mb->folder, -1, SQLITE_STATIC);
		if (step_done(mb, del, error_r) < 0)
			goto out;
		sqlite3_finalize(del);
		del = NULL;
		rows_free(r, nr);
		r = NULL;
		nr = 0;
		f.uidvalidity = v;
		f.uidnext = 1;
		f.hms = 1;
		changed = true;
	}
	upd = db_prep(mb, "UPDATE messages SET file = ?, flags = ?, "
	    "modseq = ? WHERE folder = ? AND uid = ?", error_r);
	del = db_prep(mb, "DELETE FROM messages WHERE folder = ? AND "
	    "uid = ?", error_r);
	ins = db_prep(mb, "INSERT INTO messages (folder, uid, base, file, "
	    "size, idate, flags, modseq, envelope) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", error_r);
	gone = db_prep(mb, "INSERT OR REPLACE INTO expunged (folder, uid, "
	    "modseq) VALUES (?, ?, ?)", error_r);
	if (upd == NULL || del == NULL || ins == NULL || gone == NULL)
		goto out;
	/* Merge the two base-sorted lists. */
	for (i = 0, j = 0; i < ne && j < nr;) {
		int c = strncmp(e[i].name, r[j].base, e[i].baselen);

		if (c == 0 && r[j].base[e[i].baselen] != '\0')
			c = -1;
		if (c < 0) {
			i++;
			continue;
		}
		if (c > 0) {
			j++;
			continue;
		}
		e[i].matched = r[j].matched = true;
		if (strcmp(e[i].name, r[j].file) != 0) {
			/* Flags changed by another client (renamed). */
			sqlite3_bind_text(upd, 1, e[i].name, -1, SQLITE_STATIC);
			sqlite3_bind_int(upd, 2, (int)e[i].flags);
			sqlite3_bind_int64(upd, 3, (sqlite3_int64)++f.hms);
			sqlite3_bind_text(upd, 4, mb->folder, -1,
			    SQLITE_STATIC);
			sqlite3_bind_int64(upd, 5, r[j].uid);
			if (step_done(mb, upd, error_r) < 0)
				goto out;
			changed = true;
		}
		i++;
		j++;
	}
	for (j = 0; j < nr; j++) {
		if (r[j].matched)
			continue;
		sqlite3_bind_text(del, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(del, 2, r[j].uid);
		if (step_done(mb, del, error_r) < 0)
			goto out;
		sqlite3_bind_text(gone, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(gone, 2, r[j].uid);
		sqlite3_bind_int64(gone, 3, (sqlite3_int64)++f.hms);
		if (step_done(mb, gone, error_r) < 0)
			goto out;
		changed = true;
	}
	/* Unknown files get UIDs in a stable order. */
	fresh = xreallocarray(NULL, ne ? ne : 1, sizeof(*fresh));
	for (i = 0; i < ne; i++)
		if (!e[i].matched)
			fresh[nfresh++] = &e[i];
	if (nfresh > 1)
		qsort(fresh, nfresh, sizeof(*fresh), entry_cmp_order);
	if (nfresh > MAILBOX_SYNC_NEW_MAX)
		nfresh = MAILBOX_SYNC_NEW_MAX;
	for (i = 0; i < nfresh; i++) {
		char path[MAILBOX_PATH_MAX];
		uint64_t size = 0;
		time_t mtime = 0;
		char *env = NULL;
		int m;

		if (f.uidnext == UINT32_MAX) {
			*error_r = "UID space exhausted";
			goto out;
		}
		if (path_join(path, sizeof(path), mb->dir, "cur",
		    fresh[i]->name) < 0)
			continue;
		m = measure(path, &size, &mtime, &hdr);
		if (m == 1)
			continue;	/* vanished meanwhile */
		if (m < 0) {
			*error_r = "cannot read a message file";
			goto out;
		}
		sqlite3_bind_text(ins, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, f.uidnext);
		sqlite3_bind_text(ins, 3, fresh[i]->name,
		    (int)fresh[i]->baselen, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, fresh[i]->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 5, (sqlite3_int64)size);
		sqlite3_bind_int64(ins, 6, (sqlite3_int64)(mtime > 0 ? mtime :
		    (fresh[i]->t > 0 ? fresh[i]->t : 0)));
		sqlite3_bind_int(ins, 7, (int)fresh[i]->flags);
		sqlite3_bind_int64(ins, 8, (sqlite3_int64)++f.hms);
		if (hdr.len > 0)
			env = header_envelope(&hdr);
		if (env != NULL)
			sqlite3_bind_text(ins, 9, env, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(ins, 9);
		free(env);
		if (step_done(mb, ins, error_r) < 0)
			goto out;
		f.uidnext++;
		changed = true;
	}
	if (changed) {
		fol = db_prep(mb, "INSERT OR REPLACE INTO folders (name, "
		    "uidvalidity, uidnext, highestmodseq) VALUES (?, ?, ?, ?)",
		    error_r);
		if (fol == NULL)
			goto out;
		sqlite3_bind_text(fol, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(fol, 2, f.uidvalidity);
		sqlite3_bind_int64(fol, 3, f.uidnext);
		sqlite3_bind_int64(fol, 4, (sqlite3_int64)f.hms);
		if (step_done(mb, fol, error_r) < 0)
			goto out;
	}
	ret = 0;
out:
	buf_deinit(&hdr);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
	sqlite3_finalize(fol);
	sqlite3_finalize(gone);
	free(fresh);
	entries_free(e, ne);
	rows_free(r, nr);
	return ret;
}

int
mailbox_sync(struct mailbox *mb, const char **error_r)
{
	/* BEGIN IMMEDIATE takes the write lock before the directories are
	 * read: two workers cannot both see a file as new. */
	if (db_exec(mb, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (sync_locked(mb, error_r) < 0) {
		db_rollback(mb);
		return -1;
	}
	return db_exec(mb, "COMMIT", error_r);
}

int
mailbox_status(struct mailbox *mb, struct mailbox_status *st_r,
    const char **error_r)
{
	struct folder_row f;
	sqlite3_stmt *st;
	int rc;

	memset(st_r, 0, sizeof(*st_r));
	if (folder_get(mb, &f, error_r) < 0)
		return -1;
	st_r->uidvalidity = f.uidvalidity;
	st_r->uidnext = f.exists ? f.uidnext : 1;
	st_r->highestmodseq = f.hms;
	if ((st = db_prep(mb, "SELECT count(*) FROM messages WHERE "
	    "folder = ?", error_r)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		st_r->messages = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	return 0;
}

int
mailbox_list(struct mailbox *mb, struct mailbox_msg **msgs_r, size_t *n_r,
    const char **error_r)
{
	sqlite3_stmt *st = db_prep(mb, "SELECT uid, size, idate, flags, "
	    "modseq, base, file, keywords FROM messages WHERE folder = ? "
	    "ORDER BY uid",
	    error_r);
	struct mailbox_msg *m = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*msgs_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *b = (const char *)sqlite3_column_text(st, 5);
		const char *f = (const char *)sqlite3_column_text(st, 6);
		const char *k = (const char *)sqlite3_column_text(st, 7);

		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			m = xreallocarray(m, cap, sizeof(*m));
		}
		m[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		m[n].size = (uint64_t)sqlite3_column_int64(st, 1);
		m[n].internal_date = (time_t)sqlite3_column_int64(st, 2);
		m[n].flags = (unsigned)sqlite3_column_int(st, 3);
		m[n].modseq = (uint64_t)sqlite3_column_int64(st, 4);
		m[n].base = xstrdup(b ? b : "");
		m[n].file = xstrdup(f ? f : "");
		m[n].keywords = xstrdup(k ? k : "");
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		mailbox_msgs_free(&m, n);
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	*msgs_r = m;
	*n_r = n;
	return 0;
}

void
mailbox_msgs_free(struct mailbox_msg **msgs, size_t n)
{
	size_t i;

	if (msgs == NULL || *msgs == NULL)
		return;
	for (i = 0; i < n; i++) {
		free((*msgs)[i].base);
		free((*msgs)[i].file);
		free((*msgs)[i].keywords);
	}
	free(*msgs);
	*msgs = NULL;
}

static char *
column_dup(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);

	return t != NULL ? xstrdup(t) : NULL;
}

int
mailbox_cache_get(struct mailbox *mb, uint32_t lo, uint32_t hi,
    struct mailbox_cache **c_r, size_t *n_r, const char **error_r)
{
	sqlite3_stmt *st = db_prep(mb, "SELECT uid, envelope, body, "
	    "bodystructure FROM messages WHERE folder = ? AND uid >= ? AND "
	    "uid <= ? ORDER BY uid", error_r);
	struct mailbox_cache *c = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*c_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, lo);
	sqlite3_bind_int64(st, 3, hi);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			c = xreallocarray(c, cap, sizeof(*c));
		}
		c[n].uid = (uint32_t)sqlite3_column_int64(st, 0);
		c[n].envelope = column_dup(st, 1);
		c[n].body = column_dup(st, 2);
		c[n].bodystructure = column_dup(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		mailbox_cache_free(&c, n);
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	*c_r = c;
	*n_r = n;
	return 0;
}

void
mailbox_cache_free(struct mailbox_cache **c, size_t n)
{
	size_t i;

	if (c == NULL || *c == NULL)
		return;
	for (i = 0; i < n; i++) {
		free((*c)[i].envelope);
		free((*c)[i].body);
		free((*c)[i].bodystructure);
	}
	free(*c);
	*c = NULL;
}

static void
bind_text_or_null(sqlite3_stmt *st, int col, const char *t)
{
	if (t != NULL)
		sqlite3_bind_text(st, col, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

int
mailbox_cache_put(struct mailbox *mb, const struct mailbox_cache *c,
    size_t n, const char **error_r)
{
	sqlite3_stmt *st;
	size_t i;

	if (n == 0)
		return 0;
	if (db_exec(mb, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if ((st = db_prep(mb, "UPDATE messages SET "
	    "envelope = coalesce(?, envelope), body = coalesce(?, body), "
	    "bodystructure = coalesce(?, bodystructure) "
	    "WHERE folder = ? AND uid = ?", error_r)) == NULL) {
		db_rollback(mb);
		return -1;
	}
	for (i = 0; i < n; i++) {
		bind_text_or_null(st, 1, c[i].envelope);
		bind_text_or_null(st, 2, c[i].body);
		bind_text_or_null(st, 3, c[i].bodystructure);
		sqlite3_bind_text(st, 4, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, c[i].uid);
		if (sqlite3_step(st) != SQLITE_DONE) {
			*error_r = sqlite3_errmsg(mb->db);
			sqlite3_finalize(st);
			db_rollback(mb);
			return -1;
		}
		if (sqlite3_reset(st) != SQLITE_OK) {
			*error_r = sqlite3_errmsg(mb->db);
			sqlite3_finalize(st);
			db_rollback(mb);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (db_exec(mb, "COMMIT", error_r) < 0) {
		db_rollback(mb);
		return -1;
	}
	return 0;
}

/* The current cur/ name of base (renamed by a flag change), into dst. */
static int
find_by_base(struct mailbox *mb, const char *base, char *dst, size_t dstlen)
{
	char dcur[MAILBOX_PATH_MAX];
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;
	int ret = -1;

	if (path_join(dcur, sizeof(dcur), mb->dir, "cur", NULL) < 0 ||
	    (d = opendir(dcur)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, blen) == 0 &&
		    (de->d_name[blen] == '\0' || de->d_name[blen] == ':') &&
		    valid_name(de->d_name)) {
			if (moat_strlcpy(dst, de->d_name, dstlen) < dstlen)
				ret = 0;
			break;
		}
	}
	closedir(d);
	if (ret < 0)
		errno = ENOENT;
	return ret;
}

int
mailbox_msg_open(struct mailbox *mb, const struct mailbox_msg *msg)
{
	char path[MAILBOX_PATH_MAX], name[MAILBOX_NAME_MAX + 1];
	int fd;

	if (path_join(path, sizeof(path), mb->dir, "cur", msg->file) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (find_by_base(mb, msg->base, name, sizeof(name)) < 0 ||
	    path_join(path, sizeof(path), mb->dir, "cur", name) < 0)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int
unlink_msg(struct mailbox *mb, const char *base, const char *file)
{
	char path[MAILBOX_PATH_MAX], name[MAILBOX_NAME_MAX + 1];

	if (path_join(path, sizeof(path), mb->dir, "cur", file) < 0)
		return -1;
	if (unlink(path) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (find_by_base(mb, base, name, sizeof(name)) < 0)
		return 0;	/* already gone */
	if (path_join(path, sizeof(path), mb->dir, "cur", name) < 0)
		return -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n,
    const char **error_r)
{
	sqlite3_stmt *sel = NULL, *del = NULL, *fol = NULL, *gone = NULL;
	char dcur[MAILBOX_PATH_MAX];
	struct folder_row f;
	int removed = 0;
	size_t i;

	if (n == 0)
		return 0;
	if (db_exec(mb, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	/* One MODSEQ for the whole expunge (RFC 7162 3.2.10). */
	if (folder_get(mb, &f, error_r) < 0)
		goto fail;
	gone = db_prep(mb, "INSERT OR REPLACE INTO expunged (folder, uid, "
	    "modseq) VALUES (?, ?, ?)", error_r);
	sel = db_prep(mb, "SELECT base, file FROM messages WHERE folder = ? "
	    "AND uid = ?", error_r);
	del = db_prep(mb, "DELETE FROM messages WHERE folder = ? AND "
	    "uid = ?", error_r);
	fol = db_prep(mb, "UPDATE folders SET highestmodseq = ? WHERE "
	    "name = ?", error_r);
	if (sel == NULL || del == NULL || fol == NULL || gone == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		int rc;

		sqlite3_bind_text(sel, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sel, 2, uids[i]);
		rc = sqlite3_step(sel);
		if (rc == SQLITE_ROW) {
			char *base = xstrdup((const char *)
			    sqlite3_column_text(sel, 0));
			char *file = xstrdup((const char *)
			    sqlite3_column_text(sel, 1));
			int u = unlink_msg(mb, base, file);

			free(base);
			free(file);
			if (u < 0) {
				sqlite3_reset(sel);
				*error_r = "cannot remove a message file";
				goto fail;
			}
		}
		sqlite3_reset(sel);
		sqlite3_clear_bindings(sel);
		if (rc == SQLITE_DONE)
			continue;
		if (rc != SQLITE_ROW) {
			*error_r = sqlite3_errmsg(mb->db);
			goto fail;
		}
		sqlite3_bind_text(del, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(del, 2, uids[i]);
		if (step_done(mb, del, error_r) < 0)
			goto fail;
		sqlite3_bind_text(gone, 1, mb->folder, -1, SQLITE_STATIC);
		sqlite3_bind_int64(gone, 2, uids[i]);
		sqlite3_bind_int64(gone, 3, (sqlite3_int64)(f.hms + 1));
		if (step_done(mb, gone, error_r) < 0)
			goto fail;
		removed++;
	}
	sqlite3_bind_int64(fol, 1, (sqlite3_int64)(f.hms + 1));
	sqlite3_bind_text(fol, 2, mb->folder, -1, SQLITE_STATIC);
	if (removed > 0 && step_done(mb, fol, error_r) < 0)
		goto fail;
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	sqlite3_finalize(fol);
	sqlite3_finalize(gone);
	if (db_exec(mb, "COMMIT", error_r) < 0) {
		db_rollback(mb);
		return -1;
	}
	/* The unlinks are durable once cur/ is synced. */
	if (path_join(dcur, sizeof(dcur), mb->dir, "cur", NULL) == 0)
		(void)fsync_dir(dcur);
	return removed;
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	sqlite3_finalize(fol);
	sqlite3_finalize(gone);
	db_rollback(mb);
	return -1;
}

int
mailbox_set_flags(struct mailbox *mb, uint32_t uid, unsigned flags,
    const char **error_r)
{
	struct mailbox_change ch = { .flags = flags };

	return mailbox_store(mb, uid, &ch, error_r);
}

int
mailbox_store(struct mailbox *mb, uint32_t uid, struct mailbox_change *ch,
    const char **error_r)
{
	char from[MAILBOX_PATH_MAX], to[MAILBOX_PATH_MAX];
	char name[MAILBOX_NAME_MAX + 16];
	sqlite3_stmt *st = NULL;
	char *base = NULL, *file = NULL;
	struct folder_row f;
	uint64_t modseq;
	int rc, ret = -1;

	if (ch->keywords != NULL &&
	    strlen(ch->keywords) > MAILBOX_KEYWORDS_LEN_MAX) {
		*error_r = "too many keywords";
		return -1;
	}
	if (db_exec(mb, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if ((st = db_prep(mb, "SELECT base, file, modseq FROM messages WHERE "
	    "folder = ? AND uid = ?", error_r)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		*error_r = sqlite3_errmsg(mb->db);
		goto out;
	}
	base = xstrdup((const char *)sqlite3_column_text(st, 0));
	file = xstrdup((const char *)sqlite3_column_text(st, 1));
	modseq = (uint64_t)sqlite3_column_int64(st, 2);
	sqlite3_finalize(st);
	st = NULL;
	ch->modseq = modseq;
	/* RFC 7162 3.1.3: the test and the change are one step. */
	if (ch->check_unchanged && modseq > ch->unchangedsince) {
		ret = 2;
		goto out;
	}
	if (make_name(name, sizeof(name), base, strlen(base), ch->flags) < 0 ||
	    strlen(name) > MAILBOX_NAME_MAX ||
	    path_join(from, sizeof(from), mb->dir, "cur", file) < 0 ||
	    path_join(to, sizeof(to), mb->dir, "cur", name) < 0) {
		*error_r = "file name too long";
		goto out;
	}
	if (strcmp(file, name) != 0 && rename(from, to) < 0) {
		*error_r = "cannot rename the message file";
		goto out;
	}
	if (folder_get(mb, &f, error_r) < 0)
		goto out;
	modseq = f.hms + 1;
	if ((st = db_prep(mb, "UPDATE folders SET highestmodseq = ? "
	    "WHERE name = ?", error_r)) == NULL)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)modseq);
	sqlite3_bind_text(st, 2, mb->folder, -1, SQLITE_STATIC);
	if (step_done(mb, st, error_r) < 0)
		goto out;
	sqlite3_finalize(st);
	if ((st = db_prep(mb, "UPDATE messages SET file = ?, flags = ?, "
	    "modseq = ?, keywords = coalesce(?, keywords) "
	    "WHERE folder = ? AND uid = ?", error_r)) == NULL)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)ch->flags);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)modseq);
	if (ch->keywords != NULL)
		sqlite3_bind_text(st, 4, ch->keywords, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, mb->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, uid);
	if (step_done(mb, st, error_r) < 0)
		goto out;
	ch->modseq = modseq;
	ret = 1;
out:
	sqlite3_finalize(st);
	free(base);
	free(file);
	if (ret < 0) {
		db_rollback(mb);
		return -1;
	}
	if (db_exec(mb, "COMMIT", error_r) < 0) {
		db_rollback(mb);
		return -1;
	}
	return ret;
}

int
mailbox_vanished(struct mailbox *mb, uint64_t since, uint32_t **uids_r,
    size_t *n_r, const char **error_r)
{
	sqlite3_stmt *st = db_prep(mb, "SELECT uid FROM expunged WHERE "
	    "folder = ? AND modseq > ? ORDER BY uid", error_r);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, mb->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		*error_r = sqlite3_errmsg(mb->db);
		return -1;
	}
	*uids_r = v;
	*n_r = n;
	return 0;
}

/* ---- POP3 lock --------------------------------------------------------- */

int
mailbox_pop3_lock(const char *maildir, const char **error_r)
{
	char path[MAILBOX_PATH_MAX], pid[32];
	int fd, n;

	if (path_join(path, sizeof(path), maildir, MAILBOX_LOCK_NAME,
	    NULL) < 0) {
		*error_r = "path too long";
		return -1;
	}
	/* The file is never removed: unlinking a lock file that another
	 * process is about to flock would let two holders in. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = "cannot open the POP3 lock file";
		return -1;
	}
	/* flock locks belong to the open file description: two sessions of
	 * one worker exclude each other as two processes do. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK)
			return -2;
		*error_r = "cannot lock the mailbox";
		return -1;
	}
	/* For the admin's eyes only: who holds it. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && n > 0)
		(void)write_all(fd, pid, (size_t)n);
	return fd;
}

void
mailbox_pop3_unlock(int *fd)
{
	if (fd == NULL || *fd < 0)
		return;
	(void)flock(*fd, LOCK_UN);
	close(*fd);
	*fd = -1;
}
