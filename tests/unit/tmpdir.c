/* tmpdir: see tmpdir.h. */
#define _XOPEN_SOURCE 700
#include "tmpdir.h"

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#define TMPDIR_FDS	16	/* nftw's open directories at most */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
tmpdir_remove(const char *dir)
{
	return nftw(dir, rm_entry, TMPDIR_FDS, FTW_DEPTH | FTW_PHYS) == 0 ?
	    0 : -1;
}
