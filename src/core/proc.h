/* proc: process identity: look up the service user and drop root to it
 * (setgroups, setresgid, setresuid, each checked), and make directories
 * owned by it. */
#ifndef MOAT_PROC_H
#define MOAT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_user {
	uid_t	uid;
	gid_t	gid;
	bool	drop;	/* true when running as root and must drop */
};

/* Resolve the user to run as. As root, user must exist (else -1 with a
 * message saying how to create it); not as root, the current user is kept
 * and drop is false. */
int proc_user_lookup(const char *user, struct proc_user *pu, char *err,
    size_t errlen);
/* Drop to pu (no-op when !pu->drop). Fatal on any failure. */
void proc_drop(const struct proc_user *pu);
/* mkdir -p path (0750) and, as root, chown the leaf to pu. */
int proc_mkdir_owned(const char *path, const struct proc_user *pu);

#endif
