// core/pch.h: the precompiled header of every libtorch-using library (libtorch headers are heavy).
#pragma once
#include <ATen/ATen.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>
#include <vector>
