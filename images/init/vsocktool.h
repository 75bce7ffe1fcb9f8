/* SPDX-License-Identifier: MIT */
/*
 * mvm-vsock: the guest side of mvm's vsock services, for jobs and tests.
 * The init binary runs it when started under this name (every image has
 * /mvm/mvm-vsock -> init). Usage (also `mvm-vsock --help`):
 *
 *   mvm-vsock connect PORT     stdin -> host port PORT -> stdout
 *   mvm-vsock listen PORT      accept one host connection on guest PORT
 *   mvm-vsock get PATH         host file PATH -> stdout (file service)
 *   mvm-vsock put PATH         stdin -> host file PATH (file service)
 *   mvm-vsock net HOST:PORT    stdin -> TCP HOST:PORT via the host proxy
 *
 * Exit status: 0 done, 1 refused or failed (reason on stderr), 2 usage.
 */
#ifndef MVM_VSOCKTOOL_H
#define MVM_VSOCKTOOL_H

#define VSOCKTOOL_NAME "mvm-vsock"

int vsocktool_main(int argc, char **argv);

/* A stream socket connected to host (CID 2) port port, or -errno. Used
 * by the init for its job channel too. */
int vsocktool_connect_host(unsigned port);

#endif
