using ActionKit.Engine.Layers;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;
using ActionKit.Kernels.Tests;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

/// <summary>
/// The ILGPU backend as the trainer uses it: a whole tiny X3D training step on ILGPU's CPU accelerator against the
/// CPU backend's, and the device choice (--device).
/// </summary>
[Collection(nameof(TestBackendCollection))]
public sealed class IlgpuBackendTests
{
    /// <summary>What one training step leaves: logits, loss, gradients (after clipping), and the updated weights.</summary>
    sealed record StepResult(float[] Logits, float Loss, float SumOfSquares, float[] Gradients, float[] Weights, float[] RunningStatistics);

    static StepResult TrainingStep(IBackend backend)
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 3);
        using var optimizer = new AdamW(model.Parameters, weightDecay: 1e-2f);
        using var clipping = new GradientClipping(model.Parameters, 1f);
        using var loss = new SoftmaxCrossEntropy(backend, labelSmoothing: 0.1f);
        // One clip of 2 frames at 8x8 reaches 1x1 in the last stage: every op runs, at the simulator's pace.
        using var clips = RandomTensor(backend, 4, 2, 2, 8, 8, 3);
        using var labels = Labels(backend, 2, 0);
        var logits = model.Forward(clips, training: true);
        var logitValues = logits.ToArray();
        float lossValue = Scalar(loss.Forward(logits, labels));
        model.Parameters.ZeroGradients();
        model.Backward(loss.Backward());
        clipping.Clip();
        optimizer.Step(1e-2f);
        var running = model.Parameters.Parameters.Where(p => !p.Trainable).SelectMany(p => p.Value.ToArray()).ToArray();
        return new StepResult(logitValues, lossValue, Scalar(clipping.SumOfSquares), model.Parameters.Gradients.ToArray(),
            model.Parameters.TrainableValues.ToArray(), running);
    }

    [Fact]
    public void TrainingStepOnTheSimulatorMatchesTheCpuBackend()
    {
        var want = TrainingStep(TestBackends.Get("cpu"));
        var got = TrainingStep(TestBackends.Get("ilgpu-cpu"));
        TestArrays.AssertClose(want.Logits, got.Logits, "logits");
        TestArrays.AssertClose([want.Loss, want.SumOfSquares], [got.Loss, got.SumOfSquares], "loss and squared gradient norm");
        TestArrays.AssertClose(want.Gradients, got.Gradients, "clipped gradients");
        TestArrays.AssertClose(want.Weights, got.Weights, "weights after AdamW");
        TestArrays.AssertClose(want.RunningStatistics, got.RunningStatistics, "BatchNorm running statistics");
    }

    /// <summary>
    /// Two GPU ranks with sync_bn (two simulator backends on two threads, each with one of the two clips): their
    /// averaged gradients are the CPU backend's for both clips in one process, within the GPU kernels' rounding.
    /// </summary>
    [Fact]
    public void TwoGpuRanksWithSyncBnComputeTheGradientsOfTheWholeBatch()
    {
        using var cpu = new CpuBackend();
        var want = Gradients(cpu, null, clip: 0, clips: 2);
        var barrier = new Barrier(2);
        var slots = new double[2][];
        BatchStatisticsReducer Replica(int rank) => sums =>
        {
            slots[rank] = (double[])sums.Clone();
            barrier.SignalAndWait();
            for (int i = 0; i < sums.Length; i++)
                sums[i] = slots[0][i] + slots[1][i];
            barrier.SignalAndWait();
        };
        var parts = new float[2][];
        var threads = Enumerable.Range(0, 2).Select(rank => new Thread(() =>
        {
            using var gpu = IlgpuBackend.Simulator();
            parts[rank] = Gradients(gpu, Replica(rank), clip: rank, clips: 1);
        })).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
        // Each rank's loss is the mean over its one clip: the average of the two is the mean over both.
        TestArrays.AssertClose(want, [.. parts[0].Zip(parts[1], (a, b) => (a + b) / 2)], "averaged gradients of the two ranks");
    }

    // The gradients of the mean loss over clips [clip, clip + clips) of a fixed batch of two.
    static float[] Gradients(IBackend backend, BatchStatisticsReducer? replicas, int clip, int clips)
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 3, replicas) { FirstBatchRow = clip };
        using var loss = new SoftmaxCrossEntropy(backend, labelSmoothing: 0.1f);
        var values = RandomValues(2 * 2 * 8 * 8 * 3, 4);
        using var input = backend.Allocate(clips, 2, 8, 8, 3);
        input.CopyFrom(values.AsSpan(clip * 2 * 8 * 8 * 3, clips * 2 * 8 * 8 * 3));
        using var labels = Labels(backend, [.. new[] { 2, 0 }.Skip(clip).Take(clips)]);
        loss.Forward(model.Forward(input, training: true), labels);
        model.Parameters.ZeroGradients();
        model.Backward(loss.Backward());
        return model.Parameters.Gradients.ToArray();
    }

    [Fact]
    public void TensorsOfAnotherBackendAreRefusedByName()
    {
        var (cpu, gpu) = (TestBackends.Get("cpu"), TestBackends.Get("ilgpu-cpu"));
        using var onCpu = cpu.Allocate(4);
        using var onGpu = gpu.Allocate(4);
        var error = Assert.Throws<ArgumentException>(() => gpu.Relu(onGpu, onCpu));
        Assert.Contains("does not live on this backend (ilgpu-cpu)", error.Message);
        Assert.Throws<ArgumentException>(() => cpu.Relu(onCpu, onGpu));
    }

    [Fact]
    public void CudaIsAnErrorWithoutAGpuAndAutoThenPicksTheCpu()
    {
        using var probe = IlgpuBackend.TryCuda(out string reason);
        if (probe is not null)
        {
            Assert.StartsWith("cuda:0 (", probe.Name);
            using var auto = Devices.Create("auto");
            Assert.Equal(probe.Name, auto.Name);
            return;
        }
        var error = Assert.Throws<DeviceUnavailableException>(() => Devices.Create("cuda"));
        Assert.Contains("--device=cuda: " + reason, error.Message);
        using var fallback = Devices.Create("auto");
        Assert.Equal("cpu", fallback.Name);
        Assert.Throws<ArgumentException>(() => Devices.Create("tpu"));
    }
}
