using ActionKit.Data;
using ActionKit.Engine;
using ActionKit.Engine.Checkpoints;
using ActionKit.Export.OpenVino;
using ActionKit.Pipeline;
using ActionKit.Pipeline.Distributed;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli;

/// <summary>Runs the CLI on a console: the one place where expected errors become a red line and an exit code.</summary>
public static class ActionKitApp
{
    /// <summary>
    /// Runs <paramref name="args"/>; expected errors are printed as one red line, without a stack trace. Among several
    /// <paramref name="ranks"/> (mpirun), only <c>train</c> runs, and an error on any rank names the rank and ends them all.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole console, Action<IConfigurator> addCommands, CancellationToken cancellationToken,
        ICommunicator? ranks = null)
    {
        ranks ??= SingleProcess.Instance;
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.ConfigureConsole(console);
            config.Settings.Registrar.RegisterInstance(console);
            config.Settings.Registrar.RegisterInstance(ranks);
            config.PropagateExceptions();
            config.Settings.StrictParsing = true;
            addCommands(config);
        });
        try
        {
            if (ranks.Size > 1 && args.FirstOrDefault() != "train")
                throw new NotSupportedException($"only `actionkit train` runs on several ranks; run `{args.FirstOrDefault()}` in one process");
            return await app.RunAsync(args, cancellationToken);
        }
        catch (Exception error) when (ExitCodes.For(error) is { } code)
        {
            string message = error switch
            {
                OperationCanceledException => "Cancelled; outputs and locks were left as they were before this run.",
                CommandAppException => $"{error.Message} (see actionkit --help)",
                _ => error.Message,
            };
            console.MarkupLineInterpolated($"[red]{RankPrefix(ranks)}{message}[/]");
            return EndAllRanks(ranks, code);
        }
        catch (Exception error) when (ranks.Size > 1)
        {
            console.MarkupLineInterpolated($"[red]{RankPrefix(ranks)}{error}[/]");
            return EndAllRanks(ranks, 1);
        }
    }

    static string RankPrefix(ICommunicator ranks) => ranks.Size > 1 ? $"rank {ranks.Rank} of {ranks.Size}: " : "";

    // The other ranks may be waiting in a collective for this one: MPI_Abort ends them all with the code.
    static int EndAllRanks(ICommunicator ranks, int code)
    {
        if (ranks.Size > 1)
            ranks.Abort(code);
        return code;
    }
}

/// <summary>The exit code of each kind of expected error; an unexpected exception keeps its stack trace and exit code.</summary>
public static class ExitCodes
{
    public const int Usage = 2;
    public const int Configuration = 3;
    public const int Dataset = 4;
    public const int Stage = 5;
    public const int MissingTool = 6;
    public const int Model = 7;
    public const int Cancelled = 130;

    /// <summary>The exit code for an expected error, or null for a bug.</summary>
    public static int? For(Exception error) => error switch
    {
        CommandParseException or CommandRuntimeException => Usage,
        ParamsException or TemplateException or NotSupportedException => Configuration,
        TrainingException or CheckpointFormatException or IrFormatException or InvalidDataException or DeviceException => Model,
        DatasetFormatException => Dataset,
        StageException or DeviceUnavailableException => Stage,
        MissingToolException => MissingTool,
        OperationCanceledException => Cancelled,
        _ => null,
    };
}
