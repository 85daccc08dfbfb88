/* tmpdir: the scratch directories unit tests keep their data in. */
#ifndef MOAT_TEST_TMPDIR_H
#define MOAT_TEST_TMPDIR_H

/* Remove dir and everything below it (no symlink followed). Returns 0
 * or -1. */
int tmpdir_remove(const char *dir);

#endif
