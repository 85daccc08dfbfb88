/* imap_cmd_mailbox: folders and the selected mailbox. LIST/LSUB (with
 * the LIST-EXTENDED selection and return options of RFC 5258, SPECIAL-USE
 * RFC 6154, LIST-STATUS RFC 5819), NAMESPACE (RFC 2342), CREATE, DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, SELECT, EXAMINE, CLOSE and
 * UNSELECT (RFC 3691).
 *
 * Folders are Maildir++: "Archive/2024" in IMAP (hierarchy delimiter
 * "/") is the directory "<Maildir>/.Archive.2024" (separator "." on
 * disk), so "." cannot appear in a mailbox name. Names are stored in
 * modified UTF-7 (RFC 3501 5.1.3) as Dovecot and Courier do; after
 * ENABLE IMAP4rev2 they are sent and received as UTF-8. Subscriptions
 * are a file in the Maildir (moat-subscriptions, one folder per line).
 *
 * SECURITY: a client name becomes a path only through
 * imap_folder_from_client(), which refuses ".", empty or hidden
 * components, control characters, wildcards and over-long names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "util.h"
#include "xalloc.h"

#include "imap_session_private.h"
#include "imap_view.h"

#define IMAP_SELECT_KW_MAX	(64u * 1024)	/* keywords in FLAGS */

#define SUBS_NAME	"moat-subscriptions"
#define SUBS_MAX	(1024 * 1024)	/* octets of the file we read */
#define LIST_OUT_MAX	(16u * 1024 * 1024)

static const struct {
	const char	*folder;
	const char	*attr;
} special[] = {
	{ "Sent", "\\Sent" },
	{ "Drafts", "\\Drafts" },
	{ "Junk", "\\Junk" },
	{ "Trash", "\\Trash" },
	{ "Archive", "\\Archive" },
};

#define NSPECIAL (sizeof(special) / sizeof(special[0]))

static const char *
special_attr(const char *folder)
{
	size_t i;

	for (i = 0; i < NSPECIAL; i++)
		if (strcmp(folder, special[i].folder) == 0)
			return special[i].attr;
	return NULL;
}

int
imap_folder_dir(struct imap_session *s, const char *folder, char *out,
    size_t outlen)
{
	int n;

	if (strcmp(folder, "INBOX") == 0)
		n = snprintf(out, outlen, "%s", s->maildir);
	else
		n = snprintf(out, outlen, "%s/.%s", s->maildir, folder);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

bool
imap_folder_exists(struct imap_session *s, const char *folder)
{
	char dir[IMAP_PATH_MAX], cur[IMAP_PATH_MAX + 8];
	struct stat st;

	if (strcmp(folder, "INBOX") == 0)
		return true;
	if (imap_folder_dir(s, folder, dir, sizeof(dir)) < 0)
		return false;
	snprintf(cur, sizeof(cur), "%s/cur", dir);
	return stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
}

int
imap_folder_from_client(struct imap_session *s, const struct imap_mailbox *mb,
    char *out, size_t outlen, const char **error_r)
{
	struct buf b;
	size_t i, len = mb->name.len;
	const char *e = NULL;

	if (mb->inbox) {
		moat_strlcpy(out, "INBOX", outlen);
		return 0;
	}
	if (len > 0 && mb->name.p[len - 1] == '/')
		len--;	/* RFC 9051 6.3.4: a trailing delimiter is dropped */
	if (len == 0 || len > IMAP_NAME_MAX * 2) {
		*error_r = "Bad mailbox name";
		return -1;
	}
	buf_init(&b, IMAP_NAME_MAX);
	if (s->rev2) {
		if (!imap_utf8_valid(mb->name.p, len) ||
		    imap_utf8_to_mutf7(mb->name.p, len, &b, &e) < 0) {
			buf_deinit(&b);
			*error_r = "Bad mailbox name (UTF-8 expected)";
			return -1;
		}
	} else {
		struct buf u;

		buf_init(&u, IMAP_NAME_MAX * 4);
		if (imap_mutf7_to_utf8(mb->name.p, len, &u, &e) < 0 ||
		    buf_append(&b, mb->name.p, len) < 0) {
			buf_deinit(&u);
			buf_deinit(&b);
			*error_r = "Bad mailbox name (modified UTF-7 expected)";
			return -1;
		}
		buf_deinit(&u);
	}
	if (b.len + 1 > outlen || b.len > IMAP_NAME_MAX) {
		buf_deinit(&b);
		*error_r = "Mailbox name too long";
		return -1;
	}
	for (i = 0; i < b.len; i++) {
		uint8_t c = b.data[i];

		if (c < 0x20 || c >= 0x7f || c == '.' || c == '*' ||
		    c == '%' || c == '\\' || c == '"' ||
		    (c == '/' && (i == 0 || i + 1 == b.len ||
		    b.data[i + 1] == '/'))) {
			buf_deinit(&b);
			*error_r = "Mailbox names cannot contain \".\", "
			    "wildcards or empty levels";
			return -1;
		}
		out[i] = c == '/' ? '.' : (char)c;
	}
	out[b.len] = '\0';
	buf_deinit(&b);
	if (ascii_nieq(out, "INBOX.", 6) || ascii_ieq(out, "INBOX")) {
		*error_r = "No folders below INBOX";
		return -1;
	}
	return 0;
}

/* The name a client sees for a folder on disk, as an IMAP string. */
static int
client_name_append(struct imap_session *s, const char *folder,
    struct buf *out)
{
	struct buf n;
	const char *e = NULL;
	size_t i;
	int r;

	buf_init(&n, IMAP_NAME_MAX * 4 + 8);
	if (s->rev2 && strcmp(folder, "INBOX") != 0) {
		if (imap_mutf7_to_utf8((const uint8_t *)folder, strlen(folder),
		    &n, &e) < 0) {
			buf_reset(&n);
			(void)buf_append_str(&n, folder);
		}
	} else {
		(void)buf_append_str(&n, folder);
	}
	r = buf_append(out, "\"", 1);
	for (i = 0; i < n.len && r == 0; i++) {
		uint8_t c = n.data[i];

		if (c == '.')
			c = '/';
		if (c == '"' || c == '\\')
			r = buf_append(out, "\\", 1);
		if (r == 0)
			r = buf_append(out, &c, 1);
	}
	if (r == 0)
		r = buf_append(out, "\"", 1);
	buf_deinit(&n);
	return r;
}

/* The IMAP name (delimiter "/", mUTF-7 or UTF-8) for pattern matching. */
static void
client_name(struct imap_session *s, const char *folder, struct buf *out)
{
	const char *e = NULL;
	size_t i;

	buf_reset(out);
	if (s->rev2 && strcmp(folder, "INBOX") != 0 &&
	    imap_mutf7_to_utf8((const uint8_t *)folder, strlen(folder), out,
	    &e) == 0) {
		/* converted */
	} else {
		buf_reset(out);
		(void)buf_append_str(out, folder);
	}
	for (i = 0; i < out->len; i++)
		if (out->data[i] == '.')
			out->data[i] = '/';
}

/* list-wildcards: '*' matches anything, '%' anything but the delimiter.
 * A DP over the name: O(pattern x name), no backtracking. */
static bool
pattern_match(const uint8_t *pat, size_t plen, const uint8_t *name,
    size_t nlen, bool inbox)
{
	bool *cur = xcalloc(nlen + 1, sizeof(bool));
	bool *nxt = xcalloc(nlen + 1, sizeof(bool));
	size_t i, j;
	bool r;

	cur[0] = true;
	for (i = 0; i < plen; i++) {
		uint8_t pc = pat[i];

		memset(nxt, 0, (nlen + 1) * sizeof(bool));
		if (pc == '*' || pc == '%') {
			bool run = false;

			for (j = 0; j <= nlen; j++) {
				if (pc == '%' && j > 0 && name[j - 1] == '/')
					run = false;
				run = run || cur[j];
				nxt[j] = run;
			}
		} else {
			for (j = 1; j <= nlen; j++) {
				uint8_t nc = name[j - 1];

				if (inbox && j <= 5) {
					if (pc >= 'a' && pc <= 'z')
						pc = (uint8_t)(pc - 32);
					if (nc >= 'a' && nc <= 'z')
						nc = (uint8_t)(nc - 32);
				}
				nxt[j] = cur[j - 1] && pc == nc;
			}
		}
		memcpy(cur, nxt, (nlen + 1) * sizeof(bool));
	}
	r = cur[nlen];
	free(cur);
	free(nxt);
	return r;
}

/* ---- subscriptions ------------------------------------------------------ */

static int
subs_path(struct imap_session *s, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", s->maildir, SUBS_NAME);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The file's contents, NUL-terminated, lines without blanks. */
static char *
subs_load(struct imap_session *s)
{
	char path[IMAP_PATH_MAX];
	struct buf b;
	char tmp[4096];
	const char *str;
	ssize_t n;
	int fd;

	buf_init(&b, SUBS_MAX);
	if (subs_path(s, path, sizeof(path)) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		while ((n = read(fd, tmp, sizeof(tmp))) > 0)
			if (buf_append(&b, tmp, (size_t)n) < 0)
				break;
		close(fd);
	}
	if (buf_cstr(&b, &str) < 0)
		buf_reset(&b);
	return b.data != NULL ? (char *)b.data : xstrdup("");
}

static bool
subs_has(const char *subs, const char *folder)
{
	size_t fl = strlen(folder);
	const char *p = subs;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l == fl && memcmp(p, folder, fl) == 0)
			return true;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return false;
}

static int
subs_write(struct imap_session *s, const char *text)
{
	char path[IMAP_PATH_MAX], tmp[IMAP_PATH_MAX + 8];
	int fd;

	if (subs_path(s, path, sizeof(path)) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, text, strlen(text)) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Add or remove folder. */
static int
subs_set(struct imap_session *s, const char *folder, bool on)
{
	char *subs = subs_load(s);
	struct buf b;
	const char *p = subs, *str;
	size_t fl = strlen(folder);
	int r;

	buf_init(&b, SUBS_MAX + IMAP_NAME_MAX + 2);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (l > 0 && !(l == fl && memcmp(p, folder, fl) == 0)) {
			(void)buf_append(&b, p, l);
			(void)buf_append(&b, "\n", 1);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (on) {
		(void)buf_append_str(&b, folder);
		(void)buf_append(&b, "\n", 1);
	}
	free(subs);
	if (buf_cstr(&b, &str) < 0) {
		buf_deinit(&b);
		return -1;
	}
	r = subs_write(s, str);
	buf_deinit(&b);
	return r;
}

void
imap_special_folders(struct imap_session *s)
{
	char dir[IMAP_PATH_MAX];
	size_t i;

	for (i = 0; i < NSPECIAL; i++) {
		if (imap_folder_exists(s, special[i].folder))
			continue;
		if (imap_folder_dir(s, special[i].folder, dir,
		    sizeof(dir)) < 0 || maildir_create(dir) < 0 ||
		    subs_set(s, special[i].folder, true) < 0)
			log_warn("imap session=%s event=special-folder-failed "
			    "folder=%s", s->base.id, special[i].folder);
	}
}

/* ---- LIST ---------------------------------------------------------------- */

static int
folder_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every folder on disk plus INBOX, sorted. */
static char **
folders_load(struct imap_session *s, size_t *n_r)
{
	DIR *d = opendir(s->maildir);
	struct dirent *de;
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0, cap = 1;

	v[n++] = xstrdup("INBOX");
	while (d != NULL && (de = readdir(d)) != NULL && n < IMAP_FOLDERS_MAX) {
		const char *name = de->d_name;

		if (name[0] != '.' || name[1] == '\0' || name[1] == '.' ||
		    strlen(name + 1) > IMAP_NAME_MAX ||
		    !imap_folder_exists(s, name + 1))
			continue;
		if (n == cap) {
			cap *= 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = xstrdup(name + 1);
	}
	if (d != NULL)
		closedir(d);
	qsort(v, n, sizeof(*v), folder_cmp);
	*n_r = n;
	return v;
}

static void
folders_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool
has_children(char **v, size_t n, const char *folder)
{
	size_t i, l = strlen(folder);

	for (i = 0; i < n; i++)
		if (strncmp(v[i], folder, l) == 0 && v[i][l] == '.')
			return true;
	return false;
}

static int status_append(struct imap_session *s, const char *folder,
    unsigned items, struct buf *out, const char **error_r);

void
imap_cmd_list(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_list li;
	bool lsub = c->cmd == IMAP_CMD_LSUB;
	char **v, *subs;
	struct buf out, name, pat;
	size_t n, i, k;

	if (imap_parse_list(s->parser, c, &li, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (li.npatterns == 1 && li.patterns[0].len == 0 && !lsub) {
		/* RFC 9051 6.3.9: the delimiter and root. */
		conn_printf(s->base.conn, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_tagged(s, "OK", NULL, "LIST completed");
		return;
	}
	v = folders_load(s, &n);
	subs = subs_load(s);
	buf_init(&out, LIST_OUT_MAX);
	buf_init(&name, IMAP_NAME_MAX * 4 + 8);
	buf_init(&pat, IMAP_LINE_MAX_AUTH * 2);
	for (i = 0; i < n; i++) {
		const char *f = v[i], *use = special_attr(f);
		bool sub = subs_has(subs, f) || strcmp(f, "INBOX") == 0;
		bool match = false;

		if ((lsub || (li.select_opts & IMAP_LIST_SUBSCRIBED)) && !sub)
			continue;
		if ((li.select_opts & IMAP_LIST_SPECIAL_USE) && use == NULL)
			continue;
		client_name(s, f, &name);
		for (k = 0; k < li.npatterns && !match; k++) {
			buf_reset(&pat);
			if (buf_append(&pat, li.reference.p,
			    li.reference.len) < 0 ||
			    buf_append(&pat, li.patterns[k].p,
			    li.patterns[k].len) < 0)
				continue;
			match = pattern_match(pat.data, pat.len, name.data,
			    name.len, strcmp(f, "INBOX") == 0);
		}
		if (!match)
			continue;
		if (buf_printf(&out, "* %s (", lsub ? "LSUB" : "LIST") < 0 ||
		    buf_append_str(&out, has_children(v, n, f) ?
		    "\\HasChildren" : "\\HasNoChildren") < 0 ||
		    (use != NULL && !lsub && (buf_append(&out, " ", 1) < 0 ||
		    buf_append_str(&out, use) < 0)) ||
		    (sub && !lsub && (li.select_opts & IMAP_LIST_SUBSCRIBED ||
		    li.return_opts & IMAP_LIST_SUBSCRIBED) &&
		    buf_append_str(&out, " \\Subscribed") < 0) ||
		    buf_append_str(&out, ") \"/\" ") < 0 ||
		    client_name_append(s, f, &out) < 0 ||
		    buf_append_str(&out, "\r\n") < 0)
			break;
		if (li.return_opts & IMAP_LIST_STATUS) {
			const char *e = NULL;

			(void)status_append(s, f, li.status_items, &out, &e);
		}
	}
	folders_free(v, n);
	free(subs);
	buf_deinit(&name);
	buf_deinit(&pat);
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	imap_tagged(s, "OK", NULL, "%s completed", lsub ? "LSUB" : "LIST");
}

void
imap_cmd_namespace(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	conn_printf(s->base.conn, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	imap_tagged(s, "OK", NULL, "NAMESPACE completed");
}

/* ---- CREATE DELETE RENAME SUBSCRIBE ---------------------------------- */

void
imap_cmd_create(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_create cr;
	char folder[IMAP_NAME_MAX + 1], dir[IMAP_PATH_MAX];
	const char *e = NULL;

	if (imap_parse_create(s->parser, c, &cr, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (imap_folder_from_client(s, &cr.mailbox, folder, sizeof(folder),
	    &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "ALREADYEXISTS", "Mailbox exists");
		return;
	}
	if (imap_folder_dir(s, folder, dir, sizeof(dir)) < 0 ||
	    maildir_create(dir) < 0) {
		log_warn("imap session=%s event=create-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Cannot create the mailbox");
		return;
	}
	imap_tagged(s, "OK", NULL, "CREATE completed");
}

/* Remove the files of a Maildir folder and the folder itself. */
static int
remove_folder(const char *dir)
{
	static const char *const subs[] = { "tmp", "new", "cur", "" };
	char sub[IMAP_PATH_MAX + 8], path[IMAP_PATH_MAX * 2];
	size_t i;

	for (i = 0; i < 4; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(sub, sizeof(sub), "%s%s%s", dir, subs[i][0] ? "/" :
		    "", subs[i]);
		if ((d = opendir(sub)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
			if (unlink(path) < 0 && errno != EISDIR &&
			    errno != EPERM && errno != ENOENT) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
		if (subs[i][0] != '\0' && rmdir(sub) < 0 && errno != ENOENT)
			return -1;
	}
	return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}

void
imap_cmd_delete(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_mailbox mb;
	char folder[IMAP_NAME_MAX + 1], dir[IMAP_PATH_MAX];
	const char *e = NULL;
	char **v;
	size_t n;
	bool kids;

	if (imap_parse_mailbox_cmd(c, &mb, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (mb.inbox) {
		imap_tagged(s, "NO", "CANNOT", "INBOX cannot be deleted");
		return;
	}
	if (imap_folder_from_client(s, &mb, folder, sizeof(folder), &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	if (s->mb != NULL && strcmp(s->folder, folder) == 0) {
		imap_tagged(s, "NO", "INUSE", "Mailbox is selected");
		return;
	}
	v = folders_load(s, &n);
	kids = has_children(v, n, folder);
	folders_free(v, n);
	if (kids) {
		imap_tagged(s, "NO", "HASCHILDREN", "Mailbox has children");
		return;
	}
	if (imap_folder_dir(s, folder, dir, sizeof(dir)) < 0 ||
	    remove_folder(dir) < 0) {
		log_warn("imap session=%s event=delete-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Cannot delete the mailbox");
		return;
	}
	(void)subs_set(s, folder, false);
	imap_tagged(s, "OK", NULL, "DELETE completed");
}

void
imap_cmd_rename(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_rename rn;
	char from[IMAP_NAME_MAX + 1], to[IMAP_NAME_MAX + 1];
	char dfrom[IMAP_PATH_MAX], dto[IMAP_PATH_MAX];
	const char *e = NULL;
	char **v;
	size_t n, i, fl;

	if (imap_parse_rename(c, &rn, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (rn.from.inbox) {
		imap_tagged(s, "NO", "CANNOT", "Renaming INBOX is not "
		    "supported");
		return;
	}
	if (imap_folder_from_client(s, &rn.from, from, sizeof(from), &e) < 0 ||
	    imap_folder_from_client(s, &rn.to, to, sizeof(to), &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, from)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	if (imap_folder_exists(s, to) || strcmp(to, "INBOX") == 0) {
		imap_tagged(s, "NO", "ALREADYEXISTS", "Target exists");
		return;
	}
	if (s->mb != NULL && strcmp(s->folder, from) == 0) {
		imap_tagged(s, "NO", "INUSE", "Mailbox is selected");
		return;
	}
	/* The folder, then its children (Maildir++ keeps them flat). */
	v = folders_load(s, &n);
	fl = strlen(from);
	for (i = 0; i < n; i++) {
		char nf[IMAP_NAME_MAX * 2 + 2];
		int r;

		if (strcmp(v[i], from) != 0 && !(strncmp(v[i], from, fl) == 0
		    && v[i][fl] == '.'))
			continue;
		r = snprintf(nf, sizeof(nf), "%s%s", to, v[i] + fl);
		if (r < 0 || (size_t)r > IMAP_NAME_MAX ||
		    imap_folder_dir(s, v[i], dfrom, sizeof(dfrom)) < 0 ||
		    imap_folder_dir(s, nf, dto, sizeof(dto)) < 0 ||
		    rename(dfrom, dto) < 0) {
			folders_free(v, n);
			log_warn("imap session=%s event=rename-failed",
			    s->base.id);
			imap_tagged(s, "NO", "SERVERBUG", "Cannot rename");
			return;
		}
	}
	folders_free(v, n);
	{
		char *subs = subs_load(s);

		if (subs_has(subs, from)) {
			(void)subs_set(s, from, false);
			(void)subs_set(s, to, true);
		}
		free(subs);
	}
	imap_tagged(s, "OK", NULL, "RENAME completed");
}

void
imap_cmd_subscribe(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_mailbox mb;
	char folder[IMAP_NAME_MAX + 1];
	const char *e = NULL;
	bool on = c->cmd == IMAP_CMD_SUBSCRIBE;

	if (imap_parse_mailbox_cmd(c, &mb, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (imap_folder_from_client(s, &mb, folder, sizeof(folder), &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (on && !imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	if (subs_set(s, folder, on) < 0) {
		imap_tagged(s, "NO", "SERVERBUG", "Cannot save subscriptions");
		return;
	}
	imap_tagged(s, "OK", NULL, "%s completed", on ? "SUBSCRIBE" :
	    "UNSUBSCRIBE");
}

/* ---- STATUS -------------------------------------------------------------- */

static int
status_append(struct imap_session *s, const char *folder, unsigned items,
    struct buf *out, const char **error_r)
{
	struct mailbox *mb = NULL;
	struct mailbox_status st;
	struct mailbox_msg *msgs = NULL;
	size_t n = 0, i, unseen = 0, deleted = 0;
	uint64_t size = 0;
	const char *sep = "";
	int r = -1;

	if (mailbox_open(s->maildir, folder, &mb, error_r) < 0)
		return -1;
	if (mailbox_sync(mb, error_r) < 0 ||
	    mailbox_status(mb, &st, error_r) < 0 ||
	    mailbox_list(mb, &msgs, &n, error_r) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		unseen += (msgs[i].flags & MAILBOX_F_SEEN) == 0;
		deleted += (msgs[i].flags & MAILBOX_F_DELETED) != 0;
		size += msgs[i].size;
	}
	if (buf_append_str(out, "* STATUS ") < 0 ||
	    client_name_append(s, folder, out) < 0 ||
	    buf_append_str(out, " (") < 0)
		goto out;
#define ITEM(bit, fmt, val) \
	if ((items & (bit)) != 0) { \
		if (buf_printf(out, "%s" fmt, sep, val) < 0) \
			goto out; \
		sep = " "; \
	}
	ITEM(IMAP_STATUS_MESSAGES, "MESSAGES %zu", n)
	ITEM(IMAP_STATUS_RECENT, "RECENT %d", 0)
	ITEM(IMAP_STATUS_UIDNEXT, "UIDNEXT %u", st.uidnext)
	ITEM(IMAP_STATUS_UIDVALIDITY, "UIDVALIDITY %u", st.uidvalidity)
	ITEM(IMAP_STATUS_UNSEEN, "UNSEEN %zu", unseen)
	ITEM(IMAP_STATUS_DELETED, "DELETED %zu", deleted)
	ITEM(IMAP_STATUS_SIZE, "SIZE %llu", (unsigned long long)size)
	ITEM(IMAP_STATUS_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu",
	    (unsigned long long)st.highestmodseq)
	ITEM(IMAP_STATUS_APPENDLIMIT, "APPENDLIMIT %llu",
	    (unsigned long long)s->srv->base.cfg->message_size)
#undef ITEM
	if (buf_append_str(out, ")\r\n") < 0)
		goto out;
	r = 0;
out:
	mailbox_msgs_free(&msgs, n);
	mailbox_close(&mb);
	return r;
}

void
imap_cmd_status(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_status st;
	char folder[IMAP_NAME_MAX + 1];
	const char *e = NULL;
	struct buf out;

	if (imap_parse_status(c, &st, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (imap_folder_from_client(s, &st.mailbox, folder, sizeof(folder),
	    &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	buf_init(&out, 4096);
	if (status_append(s, folder, st.items, &out, &e) < 0) {
		buf_deinit(&out);
		log_warnx("imap session=%s event=status-failed", s->base.id);
		imap_tagged(s, "NO", "SERVERBUG", "Cannot read the mailbox");
		return;
	}
	conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
	imap_tagged(s, "OK", NULL, "STATUS completed");
}

/* ---- SELECT EXAMINE CLOSE UNSELECT ----------------------------------- */

/* SELECT (QRESYNC (uidvalidity modseq [known-uids])) with a matching
 * UIDVALIDITY: what vanished and what changed since modseq (RFC 7162
 * 3.2.5.2). The sequence match data only narrows VANISHED, which we can
 * answer exactly from the expunged table: it is ignored. */
static void
qresync_select(struct imap_session *s, const struct imap_select *sel)
{
	struct buf out;
	size_t i;

	imap_vanished_earlier(s, sel->has_known_uids ? &sel->known_uids :
	    NULL, sel->modseq);
	buf_init(&out, 0);
	for (i = 0; i < s->nmsgs; i++) {
		const struct mailbox_msg *m = &s->msgs[i];

		if (m->modseq <= sel->modseq)
			continue;
		(void)buf_printf(&out, "* %zu FETCH (UID %u FLAGS (", i + 1,
		    m->uid);
		(void)imap_msg_flags_append(m, &out);
		(void)buf_printf(&out, ") MODSEQ (%llu))\r\n",
		    (unsigned long long)m->modseq);
	}
	if (out.len > 0)
		conn_write(s->base.conn, out.data, out.len);
	buf_deinit(&out);
}

void
imap_cmd_select(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_select sel;
	struct mailbox_status st;
	char folder[IMAP_NAME_MAX + 1];
	const char *e = NULL;
	size_t i, first_unseen = 0;
	bool examine = c->cmd == IMAP_CMD_EXAMINE;
	const char *kws = "";
	struct buf kw;

	if (imap_parse_select(s->parser, c, &sel, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (s->mb != NULL) {
		imap_deselect(s);
		if (s->rev2)
			conn_printf(s->base.conn, "* OK [CLOSED] Previous "
			    "mailbox closed\r\n");
	}
	if (sel.qresync && !s->qresync) {
		/* RFC 7162 3.2.5: only after ENABLE QRESYNC. */
		imap_bad(s, "QRESYNC is not enabled");
		return;
	}
	if (sel.condstore)
		s->condstore = true;	/* RFC 7162 3.1.8 */
	if (imap_folder_from_client(s, &sel.mailbox, folder, sizeof(folder),
	    &e) < 0) {
		imap_tagged(s, "NO", "CANNOT", "%s", e);
		return;
	}
	if (!imap_folder_exists(s, folder)) {
		imap_tagged(s, "NO", "NONEXISTENT", "No such mailbox");
		return;
	}
	if (mailbox_open(s->maildir, folder, &s->mb, &e) < 0 ||
	    mailbox_sync(s->mb, &e) < 0 ||
	    mailbox_status(s->mb, &st, &e) < 0 ||
	    mailbox_list(s->mb, &s->msgs, &s->nmsgs, &e) < 0) {
		log_warnx("imap session=%s event=select-failed error=\"%s\"",
		    s->base.id, e ? e : "-");
		imap_deselect(s);
		imap_tagged(s, "NO", "UNAVAILABLE", "Cannot open the mailbox");
		return;
	}
	moat_strlcpy(s->folder, folder, sizeof(s->folder));
	s->uidvalidity = st.uidvalidity;
	s->readonly = examine;
	imap_enter_state(s, IMAP_STATE_SELECTED);
	for (i = 0; i < s->nmsgs && first_unseen == 0; i++)
		if ((s->msgs[i].flags & MAILBOX_F_SEEN) == 0)
			first_unseen = i + 1;
	buf_init(&kw, IMAP_SELECT_KW_MAX);
	if (imap_keywords_union(s->msgs, s->nmsgs, &kw) < 0 ||
	    buf_cstr(&kw, &kws) < 0)
		kws = "";
	conn_printf(s->base.conn, "* FLAGS (\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft%s%s)\r\n* %zu EXISTS\r\n", kws[0] ? " " : "",
	    kws, s->nmsgs);
	buf_deinit(&kw);
	if (!s->rev2) {
		conn_printf(s->base.conn, "* 0 RECENT\r\n");
		if (first_unseen > 0)
			conn_printf(s->base.conn, "* OK [UNSEEN %zu] First "
			    "unseen\r\n", first_unseen);
	}
	conn_printf(s->base.conn, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [PERMANENTFLAGS (%s)] Flags permitted\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
	    st.uidvalidity, st.uidnext, examine ? "" :
	    "\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*",
	    (unsigned long long)st.highestmodseq);
	if (s->rev2) {
		/* RFC 9051 6.3.2: the mailbox name as the server knows it. */
		struct buf nb;

		buf_init(&nb, IMAP_NAME_MAX * 4 + 32);
		if (buf_append_str(&nb, "* LIST () \"/\" ") == 0 &&
		    client_name_append(s, folder, &nb) == 0 &&
		    buf_append_str(&nb, "\r\n") == 0)
			conn_write(s->base.conn, nb.data, nb.len);
		buf_deinit(&nb);
	}
	if (sel.qresync && sel.uidvalidity == st.uidvalidity)
		qresync_select(s, &sel);
	imap_tagged(s, "OK", examine ? "READ-ONLY" : "READ-WRITE",
	    "%s completed", examine ? "EXAMINE" : "SELECT");
}

void
imap_cmd_close(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	/* CLOSE expunges silently (RFC 9051 6.4.1); UNSELECT does not. */
	if (c->cmd == IMAP_CMD_CLOSE && !s->readonly &&
	    imap_expunge_deleted(s, NULL) < 0)
		log_warnx("imap session=%s event=close-expunge-failed",
		    s->base.id);
	imap_deselect(s);
	imap_tagged(s, "OK", NULL, "%s completed", c->cmd == IMAP_CMD_CLOSE ?
	    "CLOSE" : "UNSELECT");
}
