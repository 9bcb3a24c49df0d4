/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the HTTP layer lands. */
#include "server/server.h"
