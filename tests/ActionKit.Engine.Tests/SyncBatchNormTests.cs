using ActionKit.Engine.Layers;
using ActionKit.Kernels;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

/// <summary>sync_bn: two replicas, each with part of the rows, against one BatchNorm over all of them (bit for bit when each holds a power-of-two number of clips).</summary>
public sealed class SyncBatchNormTests
{
    const int Channels = 11;

    /// <summary>Adds the two replicas' sums in replica order: each thread waits for the other, as MPI ranks do.</summary>
    sealed class TwoReplicas
    {
        readonly Barrier barrier = new(2);
        readonly double[][] slots = new double[2][];

        public BatchStatisticsReducer For(int replica) => sums =>
        {
            slots[replica] = (double[])sums.Clone();
            barrier.SignalAndWait();
            for (int i = 0; i < sums.Length; i++)
                sums[i] = slots[0][i] + slots[1][i];
            barrier.SignalAndWait();
        };
    }

    sealed class Replica(BatchStatisticsReducer? statistics, IBackend? backend = null) : IDisposable
    {
        public readonly IBackend Backend = backend ?? new CpuBackend();
        public readonly ParameterStore Store = new();
        public BatchNorm3d Layer = null!;

        public Replica Build(Activation activation)
        {
            Layer = new BatchNorm3d(Store, Backend, "bn", Channels, 1e-5f, 0.1f, activation, initialScale: 1.3f, statistics: statistics);
            Store.Allocate(Backend, 5);
            Store["bn.bias"].Value.CopyFrom([.. Enumerable.Range(0, Channels).Select(c => 0.1f * c - 0.4f)]);
            return this;
        }

        // Forward then backward of clips [first, first + count) of x and dy [clips, rowsPerClip, C]; returns (y, dx) of those clips.
        public (float[] Y, float[] Dx) Step(float[] x, float[] dy, int first, int count, int rowsPerClip = 1)
        {
            using var input = Backend.Allocate(count, rowsPerClip, Channels);
            using var gradient = Backend.Allocate(count, rowsPerClip, Channels);
            int offset = first * rowsPerClip * Channels, length = count * rowsPerClip * Channels;
            input.CopyFrom(x.AsSpan(offset, length));
            gradient.CopyFrom(dy.AsSpan(offset, length));
            float[] y = Layer.Forward(input, training: true).ToArray();
            return (y, Layer.Backward(gradient).ToArray());
        }

        public void Dispose()
        {
            Store.Dispose();
            Backend.Dispose();
        }
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Swish)]
    public void Two_replicas_compute_what_one_batch_norm_computes_over_their_rows(Activation activation)
    {
        const int rows = 300, half = 130; // unequal parts: the counts are summed too
        float[] x = [.. RandomValues(rows * Channels, 3).Select(v => 4 * v + 2)];
        float[] dy = RandomValues(rows * Channels, 4);

        using var whole = new Replica(null).Build(activation);
        var (y, dx) = whole.Step(x, dy, 0, rows);
        var reducer = new TwoReplicas();
        using var first = new Replica(reducer.For(0)).Build(activation);
        using var second = new Replica(reducer.For(1)).Build(activation);
        var parts = new (float[] Y, float[] Dx)[2];
        var threads = new[] { new Thread(() => parts[0] = first.Step(x, dy, 0, half)), new Thread(() => parts[1] = second.Step(x, dy, half, rows - half)) };
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            thread.Join();

        AssertClose(y, [.. parts[0].Y, .. parts[1].Y], 2e-6f, "y");
        AssertClose(dx, [.. parts[0].Dx, .. parts[1].Dx], 2e-6f, "dx");
        foreach (string name in new[] { "bn.weight", "bn.bias" })
        {
            // Each replica holds its rows' share of dγ and dβ; the trainer sums them across ranks.
            float[] sum = [.. first.Store[name].Gradient.ToArray().Zip(second.Store[name].Gradient.ToArray(), (a, b) => a + b)];
            AssertClose(whole.Store[name].Gradient.ToArray(), sum, 1e-4f, name + " gradient");
        }
        foreach (var replica in new[] { first, second })
            foreach (string name in new[] { "bn.running_mean", "bn.running_var" })
                AssertClose(whole.Store[name].Value.ToArray(), replica.Store[name].Value.ToArray(), 1e-6f, name);
    }

    [Theory]
    [InlineData(Activation.None, false)]
    [InlineData(Activation.Relu, false)]
    [InlineData(Activation.Swish, false)]
    [InlineData(Activation.Swish, true)]
    public void Two_replicas_of_four_clips_compute_one_batch_norm_over_eight_bit_for_bit(Activation activation, bool gpuReplicas)
    {
        const int clips = 8, rowsPerClip = 300; // two kernel chunks per clip, the second one short
        float[] x = [.. RandomValues(clips * rowsPerClip * Channels, 5).Select(v => 4 * v + 2)];
        float[] dy = RandomValues(clips * rowsPerClip * Channels, 6);

        using var whole = new Replica(null).Build(activation);
        var (y, dx) = whole.Step(x, dy, 0, clips, rowsPerClip);
        var reducer = new TwoReplicas();
        // GPU ranks stage sync_bn through host memory: on ILGPU's CPU accelerator they must give the CPU's bits too.
        using var first = new Replica(reducer.For(0), gpuReplicas ? IlgpuBackend.Simulator() : null).Build(activation);
        using var second = new Replica(reducer.For(1), gpuReplicas ? IlgpuBackend.Simulator() : null).Build(activation);
        var parts = new (float[] Y, float[] Dx)[2];
        var threads = new[] { new Thread(() => parts[0] = first.Step(x, dy, 0, clips / 2, rowsPerClip)), new Thread(() => parts[1] = second.Step(x, dy, clips / 2, clips / 2, rowsPerClip)) };
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            thread.Join();

        float[] joinedY = [.. parts[0].Y, .. parts[1].Y], joinedDx = [.. parts[0].Dx, .. parts[1].Dx];
        Assert.Equal(y, joinedY);
        Assert.Equal(dx, joinedDx);
        foreach (string name in new[] { "bn.weight", "bn.bias" })
        {
            float[] sum = [.. first.Store[name].Gradient.ToArray().Zip(second.Store[name].Gradient.ToArray(), (a, b) => a + b)];
            Assert.Equal(whole.Store[name].Gradient.ToArray(), sum);
        }
        foreach (var replica in new[] { first, second })
            foreach (string name in new[] { "bn.running_mean", "bn.running_var" })
                Assert.Equal(whole.Store[name].Value.ToArray(), replica.Store[name].Value.ToArray());
    }

    static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int worst = Enumerable.Range(0, expected.Length).MaxBy(i => Math.Abs(expected[i] - actual[i]));
        float difference = Math.Abs(expected[worst] - actual[worst]);
        Assert.True(difference <= tolerance * Math.Max(1, Math.Abs(expected[worst])),
            $"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (difference {difference})");
    }
}
