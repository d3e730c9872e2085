/**
 * lab/toolchain finds the Go toolchains on this machine (gc from Debian packages, tarballs,
 * golang.org/dl and GOLAB_GOROOTS; gccgo through its own go tool) and builds the tracees with
 * each of them in each build mode, through a content-addressed cache; Docker images stand in
 * for toolchains that are not installed.
 */
export { BUILD_MODES, isBuildMode, type BuildMode, type BuildTweaks, type GoAbi, type Toolchain, type ToolchainKind } from './types.ts';
export {
  discoverToolchains,
  discoverToolchainsDetailed,
  findToolchain,
  clearToolchainCache,
  DEFAULT_SEARCH_ROOTS,
  type DiscoverOptions,
  type DiscoveryResult,
  type SkippedCandidate,
} from './discover.ts';
export { parseToolchainSpec, selectToolchain, matchesSpec, toolchainOrder, type ToolchainSpec } from './spec.ts';
export { installHint, distroFamily, DEBIAN_GO_PACKAGES, DEBIAN_GCCGO_PACKAGES, type DistroFamily } from './install-hint.ts';
export { parseGoVersion, formatGoVersion, compareGoVersions, abiFor, type GoVersion } from './version.ts';
export {
  buildTracee,
  buildAll,
  buildAllSettled,
  buildArguments,
  buildEnvironment,
  buildSettings,
  defaultCacheDir,
  traceeDir,
  TRACEE_ROOT,
  DEFAULT_CACHE_DIR,
  type BuildRequest,
  type BuildResult,
  type BuildOptions,
  type BuildAllOptions,
  type BuildOutcome,
  type TraceeName,
} from './build.ts';
export { buildCacheKey, hashSourceTree, isBuildInput, type BuildKeyInputs } from './cache-key.ts';
export {
  connectDocker,
  ensureImage,
  buildInDocker,
  dockerToolchain,
  defaultDockerSocket,
  type DockerBuildRequest,
  type DockerBuildResult,
  type DockerBuildOptions,
  type DockerConnectOptions,
} from './docker.ts';
export { importHostGoroot, parseLdd, type ImportGorootOptions } from './docker-image.ts';
