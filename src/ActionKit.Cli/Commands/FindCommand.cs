using System.ComponentModel;
using ActionKit.Pipeline.Templates;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ActionKit.Cli.Commands;

/// <summary><c>actionkit find</c>: the template table (TASK, ID, NAME, BASE PATH), like the reference's <c>otx find</c>.</summary>
public sealed class FindCommand(IAnsiConsole console) : Command<FindCommand.Settings>
{
    /// <summary>Options of <c>find</c>.</summary>
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--task <TASK>")]
        [Description("Only the templates of this task (action_classification).")]
        public string? Task { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var catalog = TemplateCatalog.Embedded;
        var rows = catalog.Sources.Select(source => (Template: catalog.Find(source.Id), source.Path)).ToList();
        var tasks = rows.Select(row => row.Template.Task).Distinct().ToList();
        if (settings.Task is { } task && !tasks.Contains(task))
            throw new TemplateException(task, $"no templates for this task; tasks: {string.Join(", ", tasks)}");

        // Plain padded columns rather than a Spectre table: they never wrap, even in an 80-column CI log.
        var lines = new List<string[]> { new[] { "TASK", "ID", "NAME", "BASE PATH" } };
        lines.AddRange(rows.Where(row => settings.Task is null || row.Template.Task == settings.Task)
            .Select(row => new[] { row.Template.Task, row.Template.Id, row.Template.Name, row.Path }));
        int[] widths = [.. Enumerable.Range(0, 3).Select(column => lines.Max(line => line[column].Length) + 2)];
        foreach (var line in lines)
            console.Profile.Out.Writer.WriteLine(string.Concat(line[0].PadRight(widths[0]), line[1].PadRight(widths[1]), line[2].PadRight(widths[2]), line[3]));
        return 0;
    }
}
