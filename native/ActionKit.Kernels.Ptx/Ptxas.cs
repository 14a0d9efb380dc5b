using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ActionKit.Kernels.Ptx;

/// <summary>What ptxas reports for one kernel: registers per thread, static shared memory, stack and spills (bytes).</summary>
public sealed record PtxasReport(int Registers, int SharedBytes, int StackFrameBytes, int SpillStoreBytes, int SpillLoadBytes)
{
    public bool Spills => SpillStoreBytes > 0 || SpillLoadBytes > 0;
}

/// <summary>Runs NVIDIA's ptxas on PTX and reads its resource report (-v).</summary>
public static partial class Ptxas
{
    /// <summary>The environment variable that names a ptxas to use instead of the one build.sh fetches.</summary>
    public const string Variable = "ACTIONKIT_PTXAS";

    /// <summary>ACTIONKIT_PTXAS, else tools/cuda/usr/bin/ptxas in the repository holding <paramref name="start"/>; null when neither exists.</summary>
    public static string? Find(string start)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } named)
            return File.Exists(named) ? named : null;
        for (var folder = new DirectoryInfo(start); folder != null; folder = folder.Parent)
        {
            string candidate = Path.Combine(folder.FullName, "tools", "cuda", "usr", "bin", "ptxas");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>The error a missing ptxas gives: where it is looked for and how to get it.</summary>
    public static string MissingMessage =>
        $"NVIDIA ptxas was not found: ./build.sh fetches it into tools/cuda/usr/bin (build/fetch-ptxas.sh, Debian's non-free nvidia-cuda-toolkit 11.8), or set {Variable} to a ptxas of CUDA 11.8 or later.";

    /// <summary>Assembles <paramref name="ptxFile"/> for <paramref name="architecture"/> (e.g. "sm_90"); throws with ptxas's output on an error.</summary>
    public static PtxasReport Assemble(string ptxas, string ptxFile, string architecture)
    {
        var start = new ProcessStartInfo(ptxas)
        {
            ArgumentList = { $"-arch={architecture}", "-v", "-o", Path.ChangeExtension(ptxFile, ".cubin"), ptxFile },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {ptxas}.");
        var output = process.StandardOutput.ReadToEndAsync();
        string log = process.StandardError.ReadToEnd();
        process.WaitForExit();
        log += output.Result;
        File.Delete(Path.ChangeExtension(ptxFile, ".cubin"));
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"ptxas failed on {ptxFile} (exit code {process.ExitCode}):{Environment.NewLine}{log}");
        return Parse(log, ptxFile);
    }

    /// <summary>The report of a module holding one entry function.</summary>
    public static PtxasReport Parse(string log, string what)
    {
        var frame = FrameLine().Match(log);
        var usage = UsageLine().Match(log);
        if (!frame.Success || !usage.Success)
            throw new InvalidOperationException($"Unexpected ptxas report for {what}:{Environment.NewLine}{log}");
        var shared = SharedMemory().Match(usage.Value);
        return new PtxasReport(int.Parse(usage.Groups[1].Value), shared.Success ? int.Parse(shared.Groups[1].Value) : 0,
            int.Parse(frame.Groups[1].Value), int.Parse(frame.Groups[2].Value), int.Parse(frame.Groups[3].Value));
    }

    [GeneratedRegex(@"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"Used (\d+) registers[^\n]*")]
    private static partial Regex UsageLine();

    [GeneratedRegex(@"(\d+) bytes smem")]
    private static partial Regex SharedMemory();
}
