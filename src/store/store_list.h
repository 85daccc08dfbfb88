/* store_list: (not written yet). */
#ifndef MOAT_STORE_LIST_H
#define MOAT_STORE_LIST_H
#endif
