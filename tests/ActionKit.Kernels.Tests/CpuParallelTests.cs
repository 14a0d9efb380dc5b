using ActionKit.Kernels.Cpu;

namespace ActionKit.Kernels.Tests;

public sealed class CpuParallelTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void EveryChunkRunsExactlyOnce(int threads)
    {
        var runs = new int[1000];
        TestArrays.With(16, threads, () =>
        {
            for (int loop = 0; loop < 50; loop++)
                CpuParallel.For(runs.Length / 50 * (loop % 5 + 1) / 5, chunk => Interlocked.Increment(ref runs[chunk]));
        });
        int Expected(int chunk) => Enumerable.Range(0, 50).Count(loop => chunk < runs.Length / 50 * (loop % 5 + 1) / 5);
        for (int chunk = 0; chunk < runs.Length; chunk++)
            Assert.True(runs[chunk] == Expected(chunk), $"chunk {chunk} ran {runs[chunk]} times, want {Expected(chunk)}");
    }

    [Fact]
    public void AChunkFailureReachesTheCaller()
    {
        TestArrays.With(16, 2, () =>
        {
            var error = Assert.Throws<InvalidOperationException>(() =>
                CpuParallel.For(64, chunk => throw new InvalidOperationException($"chunk {chunk} failed")));
            Assert.Contains("failed", error.Message);
        });
    }
}
