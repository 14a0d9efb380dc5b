using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using ActionKit.Data;
using ActionKit.Kernels.Cpu;
using MPI;

namespace ActionKit.Pipeline.Distributed;

/// <summary>
/// The ranks started by MPICH's <c>mpirun</c>, through MPI.NET. MPI.NET was built against MS-MPI, whose integer
/// handle ABI MPICH shares, so its P/Invokes of <c>msmpi.dll</c> are redirected to <c>libmpich.so.12</c>; Open MPI's
/// handles are pointers and do not fit. Only primitive arrays cross the wire (MPI.NET's object paths use
/// BinaryFormatter, which .NET 10 removed). Sums gather every rank's array and add them in the batch tree's order on every rank.
/// </summary>
public sealed class MpiCommunicator : ICommunicator, IDisposable
{
    const string MpichLibrary = "libmpich.so.12";
    readonly MPI.Environment environment;
    readonly Intracommunicator world;
    Array? gathered;

    MpiCommunicator()
    {
        string[] args = [];
        // Serialized: the CLI may call from a thread other than the one that initialized MPI, never from two at once.
        environment = new MPI.Environment(ref args, Threading.Serialized);
        world = Communicator.world;
    }

    public int Rank => world.Rank;
    public int Size => world.Size;

    /// <summary>hydra's <c>MPI_LOCALRANKID</c>: this rank's index among the ranks on its machine.</summary>
    public int LocalRank => int.TryParse(System.Environment.GetEnvironmentVariable("MPI_LOCALRANKID"), out int index) && index >= 0 ? index : 0;

    /// <summary>
    /// The communicator of this process: MPI when it was started by MPICH's mpirun (hydra sets <c>PMI_RANK</c>),
    /// else a single process. Fails with a clear message under Open MPI's mpirun or when MPICH is not installed.
    /// </summary>
    public static ICommunicator FromEnvironment()
    {
        if (System.Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null)
            throw new NotSupportedException("started by Open MPI's mpirun: ActionKit's MPI binding (MPI.NET) works with MPICH only; "
                + "install it (apt-get install mpich) and run mpiexec.mpich");
        if (System.Environment.GetEnvironmentVariable("PMI_RANK") is null)
            return SingleProcess.Instance;
        NativeLibrary.SetDllImportResolver(typeof(Communicator).Assembly, ResolveMpich);
        return new MpiCommunicator();
    }

    /// <summary>Ranks that share this machine (hydra's <c>MPI_LOCALNRANKS</c>), so each can take its share of the cores.</summary>
    public static int LocalRanks =>
        int.TryParse(System.Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"), out int count) && count > 0 ? count : 1;

    static IntPtr ResolveMpich(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!name.Contains("msmpi", StringComparison.OrdinalIgnoreCase))
            return IntPtr.Zero;
        return NativeLibrary.TryLoad(MpichLibrary, out var handle)
            ? handle
            : throw new MissingToolException($"MPICH ({MpichLibrary})", "apt-get install mpich libmpich-dev");
    }

    public void Sum(float[] values) => SumInTreeOrder(values);

    public void Sum(double[] values) => SumInTreeOrder(values);

    public void Broadcast(double[] values)
    {
        var received = values;
        world.Broadcast(ref received, 0);
        if (!ReferenceEquals(received, values))
            received.CopyTo(values, 0);
    }

    public void Barrier() => world.Barrier();

    public void Abort(int exitCode) => world.Abort(exitCode);

    public void Dispose() => environment.Dispose();

    // Every rank receives all ranks' arrays (one Allgather) and adds them in the batch tree over rank index: the same
    // sum everywhere, independent of the library's reduction algorithm and message sizes, and with a power-of-two
    // number of clips per rank the very sum one process computes over all the clips (Kernels.Cpu.BatchTree).
    void SumInTreeOrder<T>(T[] values) where T : unmanaged, INumber<T>
    {
        int n = values.Length;
        if (gathered is not T[] all || all.Length != n * Size)
            gathered = all = new T[n * Size];
        world.AllgatherFlattened(values, n, ref all);
        BatchTree.Sum<T>(all, n, Size);
        Array.Copy(all, values, n);
    }
}
