#pragma once
// The tasks this library ships, each defined beside its Task class (lm_task.cpp, mlm_task.cpp, cell_task.cpp).
// A new domain adds its definition here: this list is the only place that names every task.
#include <vector>

#include "trainer/tasks/task_registry.h"

namespace sigtrain::trainer {

TaskDefinition cell_task_definition();  // trainer/tasks/cell_task.cpp
TaskDefinition lm_task_definition();    // trainer/tasks/lm_task.cpp
TaskDefinition mlm_task_definition();   // trainer/tasks/mlm_task.cpp
TaskDefinition vision_task_definition();  // trainer/tasks/vision_task.cpp
TaskDefinition speech_task_definition();  // trainer/tasks/speech_task.cpp

// In claim order (run.task: auto): the first definition whose claims() accepts the config wins.
inline std::vector<TaskDefinition> builtin_task_definitions() {
  return {cell_task_definition(), lm_task_definition(), mlm_task_definition(), vision_task_definition(),
          speech_task_definition()};
}

}  // namespace sigtrain::trainer
