/* quota: per-account storage quota (see quota.h). */
#include "quota.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"

#define QUOTA_PATH_MAX	4096

/* Add the regular files of dir/sub to u. */
static int
scan_dir(const char *dir, const char *sub, struct quota_usage *u)
{
	char path[QUOTA_PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (u->messages >= QUOTA_FILES_MAX) {
			u->truncated = true;
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
			continue;	/* gone meanwhile, or not a message */
		u->bytes += (uint64_t)sb.st_size;
		u->messages++;
	}
	closedir(d);
	return 0;
}

static int
scan_folder(const char *dir, struct quota_usage *u)
{
	return scan_dir(dir, "cur", u) < 0 || scan_dir(dir, "new", u) < 0 ?
	    -1 : 0;
}

int
quota_usage(const char *maildir, struct quota_usage *u)
{
	char path[QUOTA_PATH_MAX];
	struct dirent *de;
	struct stat sb;
	size_t folders = 0;
	DIR *d;
	int n;

	memset(u, 0, sizeof(*u));
	if (scan_folder(maildir, u) < 0)
		return -1;
	if ((d = opendir(maildir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	/* Maildir++ folders: ".Sent", ".Archive.2024" */
	while ((de = readdir(d)) != NULL && folders < QUOTA_FOLDERS_MAX) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", maildir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		folders++;
		if (scan_folder(path, u) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
quota_check(struct store *st, const char *data_dir, const char *local,
    const char *domain, uint64_t size, enum quota_result *r,
    uint64_t *limit_r)
{
	char addr[600], maildir[QUOTA_PATH_MAX];
	struct quota_usage u;
	const char *e = NULL;
	uint64_t limit;
	int n;

	*r = QUOTA_OK;
	if (limit_r != NULL)
		*limit_r = 0;
	n = snprintf(addr, sizeof(addr), "%s@%s", local, domain);
	if (n < 0 || (size_t)n >= sizeof(addr))
		return -1;
	if (store_account_quota(st, addr, &limit, &e) < 0)
		return -1;
	if (limit_r != NULL)
		*limit_r = limit;
	if (limit == 0)
		return 0;
	if (maildir_path(data_dir, domain, local, maildir,
	    sizeof(maildir)) < 0 || quota_usage(maildir, &u) < 0)
		return -1;
	if (u.truncated || u.bytes >= limit)
		*r = QUOTA_FULL;
	else if (size > limit - u.bytes)
		*r = QUOTA_TOO_BIG;
	return 0;
}
