// status_macros.h: early-return helpers for absl::Status and absl::StatusOr.
//
//   absl::Status CopyAll(int in, int out) {
//     MT_ASSIGN_OR_RETURN(std::string data, ReadAll(in));
//     MT_RETURN_IF_ERROR(WriteAll(out, data));
//     return absl::OkStatus();
//   }
//
// Abseil 20220623 does not ship these macros publicly, so the course keeps its
// own.

#ifndef MULTITASK_COMMON_STATUS_MACROS_H_
#define MULTITASK_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define MT_RETURN_IF_ERROR(expr)                              \
  do {                                                        \
    if (absl::Status mt_status_ = (expr); !mt_status_.ok()) { \
      return mt_status_;                                      \
    }                                                         \
  } while (false)

#define MT_STATUS_MACROS_CONCAT_INNER_(x, y) x##y
#define MT_STATUS_MACROS_CONCAT_(x, y) MT_STATUS_MACROS_CONCAT_INNER_(x, y)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise declares or assigns `lhs` from its value.
#define MT_ASSIGN_OR_RETURN(lhs, rexpr)                                       \
  MT_ASSIGN_OR_RETURN_IMPL_(MT_STATUS_MACROS_CONCAT_(mt_statusor_, __LINE__), \
                            lhs, rexpr)

#define MT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // MULTITASK_COMMON_STATUS_MACROS_H_
