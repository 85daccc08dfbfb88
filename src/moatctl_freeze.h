/* moatctl_freeze: "moatctl account freeze|unfreeze" and "account list
 * --frozen": the hijack freeze of an account, in the database and in the
 * shared screening map that running workers check. */
#ifndef MOAT_MOATCTL_FREEZE_H
#define MOAT_MOATCTL_FREEZE_H

#include "config.h"

struct store;

/* argv: the arguments after the command name. Exit codes. */
int moatctl_account_freeze(const struct config *cfg, struct store *st,
    int argc, char **argv);
int moatctl_account_unfreeze(const struct config *cfg, struct store *st,
    int argc, char **argv);
int moatctl_account_frozen_list(struct store *st);

#endif
