namespace ActionKit.Pipeline.Distributed;

/// <summary>
/// The processes (ranks) of a data-parallel run and the few collectives training needs. Sums add the ranks' values
/// in a fixed tree over rank index (Kernels.Cpu.BatchTree), whatever the library would pick, so every rank holds the
/// same bits and a run with a given number of ranks is reproducible bit for bit.
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1; rank 0 alone writes outputs.</summary>
    int Rank { get; }

    int Size { get; }

    /// <summary>This rank's index among the ranks on its machine (0 for one process): it picks the rank's GPU.</summary>
    int LocalRank { get; }

    /// <summary>Replaces <paramref name="values"/> on every rank by their element-wise sum over the ranks, in the fixed tree.</summary>
    void Sum(float[] values);

    /// <inheritdoc cref="Sum(float[])"/>
    void Sum(double[] values);

    /// <summary>Replaces <paramref name="values"/> on every rank by rank 0's.</summary>
    void Broadcast(double[] values);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every rank of the run with <paramref name="exitCode"/>: a failed rank must not leave the others
    /// waiting in a collective.</summary>
    void Abort(int exitCode);
}

/// <summary>A run of one process: rank 0 of 1; the collectives leave the values as they are.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static SingleProcess Instance { get; } = new();

    SingleProcess()
    {
    }

    public int Rank => 0;
    public int Size => 1;
    public int LocalRank => 0;

    public void Sum(float[] values)
    {
    }

    public void Sum(double[] values)
    {
    }

    public void Broadcast(double[] values)
    {
    }

    public void Barrier()
    {
    }

    public void Abort(int exitCode) => Environment.Exit(exitCode);
}
