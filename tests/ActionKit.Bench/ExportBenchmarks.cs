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
/// Peers are timed interleaved, one call of each in turn.
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
            double onnxFloat, onnxInt8;
            using (var floatRunner = new OnnxRunner(floatPath))
            using (var int8Runner = new OnnxRunner(int8Path))
            {
                var onnxSeconds = Timing.InterleavedMedianSeconds([() => floatRunner.Run(pixels, shape), () => int8Runner.Run(pixels, shape)],
                    warmup: 1, minRounds: 3, minSeconds: 4);
                (onnxFloat, onnxInt8) = (batch / onnxSeconds[0], batch / onnxSeconds[1]);
            }
            var channelsLast = GraphExecutor.ToChannelsLast(pixels, [batch, 3, frames * size * size]);
            var floatExecutor = new GraphExecutor(graph);
            var int8Executor = new GraphExecutor(quantized);
            // Every integer path this CPU runs, the one it picks first; the scalar loops are a reference, not a path to time.
            var paths = Enum.GetValues<Int8Path>().Where(path => path != Int8Path.Scalar && Int8Gemm.IsSupported(path)).OrderBy(path => path != Int8Gemm.Best).ToList();
            // The engine and every executor in turn, round after round, so that a machine whose load changes during the
            // run moves all of them alike.
            var peers = new List<Action> { () => network.Forward(clips, training: false), () => floatExecutor.RunChannelsLast(channelsLast, batch) };
            peers.AddRange(paths.Select(path => (Action)(() =>
            {
                Int8Gemm.Path = path;
                int8Executor.RunChannelsLast(channelsLast, batch);
            })));
            double[] peerSeconds;
            try
            {
                peerSeconds = Timing.InterleavedMedianSeconds(peers, warmup: 2, minRounds: 3, minSeconds: 2 * peers.Count);
            }
            finally
            {
                Int8Gemm.Path = Int8Gemm.Best;
            }
            double engine = batch / peerSeconds[0], ir = batch / peerSeconds[1];

            yield return new BenchmarkRow("export", $"{name}: ActionKit engine", engine, "clips/s", "ONNX Runtime fp32, same graph", onnxFloat);
            yield return new BenchmarkRow("export", $"{name}: ONNX Runtime INT8 (QDQ)", onnxInt8, "clips/s", "ONNX Runtime fp32, same graph", onnxFloat);
            yield return new BenchmarkRow("export", $"{name}: ActionKit IR executor (fp32)", ir, "clips/s", "ActionKit engine", engine);
            for (int p = 0; p < paths.Count; p++)
                yield return new BenchmarkRow("export", $"{name}: ActionKit IR executor INT8 ({int8Executor.IntegerLayers} int8 layers, {paths[p]})", batch / peerSeconds[2 + p], "clips/s", "ActionKit engine", engine);
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
