#include "data/vision/eval_set.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include "data/vision/image_loader.h"

namespace sigtrain::vision {

ImageEvalSet::ImageEvalSet(std::shared_ptr<const ImageSource> source, EvalTransformOptions options, int workers)
    : source_(std::move(source)), options_(std::move(options)), workers_(workers) {
  if (workers < 1) throw std::invalid_argument("eval set: workers must be >= 1");
  check_normalization(options_.norm, options_.channels, "eval set");
}

VisionBatch ImageEvalSet::eval_batch(int64_t first, int64_t count) const {
  if (first < 0 || count < 0 || first + count > size())
    throw std::out_of_range("eval set: items [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") outside [0, " + std::to_string(size()) + ")");
  const auto& o = options_;
  VisionBatch b = sized_batch(first, count, o.channels, o.output_size);
  const size_t per = pixels_per_image(o.channels, o.output_size);
  // Thread t handles items t, t + T, ...; each keeps the error of its first failing item, the lowest index wins.
  const int threads = static_cast<int>(std::min<int64_t>(workers_, std::max<int64_t>(count, 1)));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(count));
  auto work = [&](int t) {
    for (int64_t i = t; i < count; i += threads) {
      try {
        eval_transform(to_channels(source_->load(first + i), o.channels), o, b.pixels.data() + per * static_cast<size_t>(i));
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
        return;
      }
    }
  };
  if (threads <= 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work, t);
    for (auto& th : pool) th.join();
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int64_t i = 0; i < count; ++i) {
    b.labels.push_back(source_->label(first + i));
    b.image_indices.push_back(first + i);
  }
  return b;
}

}  // namespace sigtrain::vision
