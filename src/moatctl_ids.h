/* moatctl_ids: what the moatctl commands that take message ids share. */
#ifndef MOAT_MOATCTL_IDS_H
#define MOAT_MOATCTL_IDS_H

/* "delete ID...": for each id (argv[first..argc-1]) a queue id is
 * checked, then removed with del(data_dir, id) (0, or -1 with errno;
 * ENOENT: "no such message in the WHERE"), and "deleted ID" printed.
 * Returns 0 when all went, else 1 (each failure said on stderr). */
int moatctl_delete_ids(const char *data_dir, int argc, char **argv,
    int first, int (*del)(const char *data_dir, const char *id),
    const char *where);

#endif
