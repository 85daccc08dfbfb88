/* moatctl_list: the "moatctl list ..." commands. */
#ifndef MOAT_MOATCTL_LIST_H
#define MOAT_MOATCTL_LIST_H

#include "config.h"
#include "store.h"

/* argv[0] is "list". Returns the process exit code. */
int moatctl_list(const struct config *cfg, int argc, char **argv);

/* account add / alias add: 0 when address is no list's address, else 1
 * with the reason on stderr (what names the command). */
int moatctl_list_refuse_address(struct store *st, const char *what,
    const char *address);

#endif
