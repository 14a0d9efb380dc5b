using ActionKit.Data.Loading;
using ActionKit.Engine;
using ActionKit.Engine.Models;
using ActionKit.Export.Onnx;
using ActionKit.Export.Quantization;
using ActionKit.Export.Runtime;
using ActionKit.Kernels.Cpu;
using ActionKit.Pipeline.Export;

namespace ActionKit.Bench;

/// <summary>
/// Inference throughput of one X3D-XS on every runtime ActionKit ships it to, measured in the same run: the engine,
/// ONNX Runtime on the exported float model.onnx and on the INT8 QDQ model, and ActionKit's IR executor on the float
/// graph and on the quantized one (its pointwise convolutions in integers). ONNX Runtime's float run is the peer of
/// ONNX Runtime INT8; the engine is the peer of the IR executor, which gets the clips channels-last as the engine does.
/// </summary>
public static class ExportBenchmarks
{
    public static IEnumerable<BenchmarkRow> Run(int frames, int size, int batch = 8, bool profile = false)
    {
        using var backend = new CpuBackend();
        using var network = new X3D(new X3DConfig { NumClasses = 8 }, backend, seed: 1);
        var preprocessing = new ClipPreprocessing(frames, 2, 1, size, size, size, (0.5, 1), (0.75, 1.33), 0.5, [0f, 0f, 0f], [255f, 255f, 255f]);
        var graph = X3DGraphBuilder.Build(network, preprocessing, [.. Enumerable.Range(0, 8).Select(i => $"class{i}")], new Dictionary<string, string>());
        var random = new Random(1);
        var pixels = Enumerable.Range(0, batch * 3 * frames * size * size).Select(_ => (float)random.Next(256)).ToArray();
        var quantized = PostTrainingQuantizer.Quantize(graph, [new CalibrationBatch(pixels, batch)]).Graph;

        string folder = Directory.CreateTempSubdirectory("actionkit-bench-").FullName;
        try
        {
            string floatPath = Path.Combine(folder, "model.onnx"), int8Path = Path.Combine(folder, "model.int8.onnx");
            OnnxWriter.Write(graph, floatPath);
            OnnxWriter.Write(quantized, int8Path);
            int[] shape = [batch, 1, 3, frames, size, size];
            string name = $"X3D-XS {frames}x{size}x{size} inference, batch {batch}";

            using var clips = backend.Allocate(batch, frames, size, size, 3);
            clips.CopyFrom(GraphExecutor.ToChannelsLast(pixels, [batch, 3, frames * size * size]).Select(p => p / 255f).ToArray());
            double engine = batch / Timing.MedianSeconds(() => network.Forward(clips, training: false), warmup: 1, minRuns: 3, minSeconds: 2);
            double onnxFloat, onnxInt8;
            using (var runner = new OnnxRunner(floatPath))
                onnxFloat = batch / Timing.MedianSeconds(() => runner.Run(pixels, shape), warmup: 1, minRuns: 3, minSeconds: 2);
            using (var runner = new OnnxRunner(int8Path))
                onnxInt8 = batch / Timing.MedianSeconds(() => runner.Run(pixels, shape), warmup: 1, minRuns: 3, minSeconds: 2);
            var channelsLast = GraphExecutor.ToChannelsLast(pixels, [batch, 3, frames * size * size]);
            var floatExecutor = new GraphExecutor(graph);
            double ir = batch / Timing.MedianSeconds(() => floatExecutor.RunChannelsLast(channelsLast, batch), warmup: 1, minRuns: 3, minSeconds: 2);
            var int8Executor = new GraphExecutor(quantized);
            // Every integer path this CPU runs, the one it picks first; the scalar loops are a reference, not a path to time.
            var paths = Enum.GetValues<Int8Path>().Where(path => path != Int8Path.Scalar && Int8Gemm.IsSupported(path)).OrderBy(path => path != Int8Gemm.Best).ToList();
            var irInt8 = new List<(Int8Path Path, double ClipsPerSecond)>();
            foreach (var path in paths)
            {
                Int8Gemm.Path = path;
                irInt8.Add((path, batch / Timing.MedianSeconds(() => int8Executor.RunChannelsLast(channelsLast, batch), warmup: 1, minRuns: 3, minSeconds: 2)));
            }
            Int8Gemm.Path = Int8Gemm.Best;
            // The engine once more, so that a machine whose load changed during the run shows in the two engine figures.
            double engineAgain = batch / Timing.MedianSeconds(() => network.Forward(clips, training: false), warmup: 1, minRuns: 3, minSeconds: 2);

            yield return new BenchmarkRow("export", $"{name}: ActionKit engine", engine, "clips/s", "ONNX Runtime fp32, same graph", onnxFloat);
            yield return new BenchmarkRow("export", $"{name}: ONNX Runtime INT8 (QDQ)", onnxInt8, "clips/s", "ONNX Runtime fp32, same graph", onnxFloat);
            yield return new BenchmarkRow("export", $"{name}: ActionKit IR executor (fp32)", ir, "clips/s", "ActionKit engine", engine);
            foreach (var (path, clipsPerSecond) in irInt8)
                yield return new BenchmarkRow("export", $"{name}: ActionKit IR executor INT8 ({int8Executor.IntegerLayers} int8 layers, {path})", clipsPerSecond, "clips/s", "ActionKit engine", engine);
            yield return new BenchmarkRow("export", $"{name}: ActionKit engine, measured again last", engineAgain, "clips/s", "ActionKit engine, first", engine);
            if (profile)
                foreach (var (executor, what) in new[] { (floatExecutor, "fp32"), (int8Executor, "INT8") })
                {
                    executor.Profiling = true;
                    const int runs = 3;
                    for (int run = 0; run < runs; run++)
                        executor.RunChannelsLast(channelsLast, batch);
                    foreach (var (kind, seconds) in executor.StepSeconds.OrderByDescending(entry => entry.Value))
                        yield return new BenchmarkRow("profile", $"{name}: IR executor {what}: {kind}", seconds * 1000 / runs, "ms/run");
                }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
