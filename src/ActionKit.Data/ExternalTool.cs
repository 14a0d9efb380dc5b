using System.Diagnostics;

namespace ActionKit.Data;

/// <summary>Runs ffmpeg or ffprobe as a child process with its three pipes. Standard error is read by a task of
/// its own while the caller reads standard output (and another task feeds standard input), so no pipe can fill
/// up and stall the tool; the exit code is awaited only after standard output reached its end.</summary>
internal static class ExternalTool
{
    /// <summary>Runs <paramref name="tool"/> to its end: <paramref name="writeInput"/> (when given) writes its
    /// standard input, which is then closed; <paramref name="readOutput"/> reads its standard output. A failure of
    /// <paramref name="readOutput"/> kills the tool. Cancellation kills it and throws <see cref="OperationCanceledException"/>.</summary>
    public static ToolResult<T> Run<T>(string tool, IReadOnlyList<string> arguments, Action<Stream>? writeInput,
        Func<Stream, T> readOutput, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new MissingToolException(tool, "apt-get install ffmpeg");
        using CancellationTokenRegistration kill = cancellationToken.Register(() => KillQuietly(process));
        Task<string> errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        Task input = Task.Run(() =>
        {
            try
            {
                writeInput?.Invoke(process.StandardInput.BaseStream);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The tool stopped reading (it failed or was killed); its exit code and messages say why.
            }
        }, CancellationToken.None);
        T output;
        try
        {
            output = readOutput(process.StandardOutput.BaseStream);
            process.StandardOutput.BaseStream.CopyTo(Stream.Null);
        }
        catch
        {
            KillQuietly(process);
            process.WaitForExit();
            throw;
        }
        finally
        {
            input.Wait(CancellationToken.None);
        }
        process.WaitForExit();
        cancellationToken.ThrowIfCancellationRequested();
        return new ToolResult<T>(process.ExitCode, output, errors.Result.Trim());
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }
}

/// <summary>How a tool ended: its exit code, what <see cref="ExternalTool.Run{T}"/>'s reader made of its output,
/// and its standard error.</summary>
internal readonly record struct ToolResult<T>(int ExitCode, T Output, string Errors)
{
    /// <summary>The last line of standard error, for a one-line message.</summary>
    public string LastError => Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .LastOrDefault() ?? $"exit code {ExitCode}";
}
