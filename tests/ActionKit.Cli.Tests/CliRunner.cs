using Spectre.Console.Testing;

namespace ActionKit.Cli.Tests;

/// <summary>Runs the actionkit command line in-process on a test console and returns its exit code and output.</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Output) Run(params string[] args)
    {
        using var console = new TestConsole();
        console.Profile.Width = 1000;
        int exitCode = ActionKitApp.RunAsync(args, console, Program.AddCommands, CancellationToken.None).GetAwaiter().GetResult();
        return (exitCode, console.Output);
    }
}

/// <summary>A fresh folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "actionkit-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string relativePath, string text)
    {
        string path = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
