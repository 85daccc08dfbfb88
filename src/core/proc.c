/* proc: user lookup and privilege drop. */
#include "proc.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int
proc_user_lookup(const char *user, struct proc_user *pu, char *err,
    size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		pu->uid = geteuid();
		pu->gid = getegid();
		pu->drop = false;
		return 0;
	}
	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "user '%s' does not exist; create it "
		    "with: useradd --system --home-dir /var/lib/moat "
		    "--shell /usr/sbin/nologin %s", user, user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user '%s' is root; moat must run as "
		    "an unprivileged user", user);
		return -1;
	}
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	pu->drop = true;
	return 0;
}

void
proc_drop(const struct proc_user *pu)
{
	if (!pu->drop)
		return;
	if (setgroups(1, &pu->gid) < 0)
		fatal("setgroups");
	if (setresgid(pu->gid, pu->gid, pu->gid) < 0)
		fatal("setresgid");
	if (setresuid(pu->uid, pu->uid, pu->uid) < 0)
		fatal("setresuid");
	/* Make sure there is no way back. */
	if (setuid(0) == 0)
		fatalx("privilege drop failed: could regain root");
}

int
proc_mkdir_owned(const char *path, const struct proc_user *pu)
{
	if (mkdir_p(path, 0750) < 0)
		return -1;
	if (pu->drop && chown(path, pu->uid, pu->gid) < 0)
		return -1;
	return 0;
}
